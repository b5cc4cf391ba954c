"""Prometheus metrics for one app instance, on its own registry so instances never collide."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from assistant.bus import EventBus
    from assistant.triage import Triage


class _LiveState(Collector):
    """Read at scrape time from the bus and triage, so nothing has to push gauges."""

    def __init__(self, bus: EventBus, triage: Triage) -> None:
        self.bus = bus
        self.triage = triage

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily("lca_events", "Events published, by type", labels=["type"])
        for event_type, count in sorted(self.bus.published.items()):
            events.add_metric([event_type], count)
        yield events
        # Totals and the busiest room's figure, never a room id: this endpoint needs no token,
        # and a room id is half of what joining a room takes. Per room: /v1/rooms/{id}/health.
        for name, what, sizes in (
            ("lca_queue_depth", "Queued events", self.bus.depths()),
            ("lca_chat_backlog", "Triaged chat waiting", self.triage.backlog_sizes()),
        ):
            yield GaugeMetricFamily(name, f"{what}, all rooms", value=sum(sizes.values()))
            yield GaugeMetricFamily(
                f"{name}_max", f"{what}, the busiest room", value=max(sizes.values(), default=0)
            )
        skipped = CounterMetricFamily(
            "lca_chat_skipped", "Chat skipped, by reason", labels=["reason"]
        )
        for reason, count in sorted(self.triage.skipped.items()):
            skipped.add_metric([reason], count)
        yield skipped
        bus = self.bus
        yield GaugeMetricFamily(
            "lca_bus_outbox", "Events waiting for the bus backend", bus.backlogged
        )
        yield CounterMetricFamily(
            "lca_bus_slow_consumers", "Inboxes closed as slow consumers", bus.slow_consumers
        )
        yield CounterMetricFamily(
            "lca_bus_gaps", "Stream entries gone before this instance read them", bus.gaps
        )
        yield CounterMetricFamily(
            "lca_bus_dropped_while_down",
            "Lossy or stale events dropped while the bus backend was down",
            bus.dropped_while_down,
        )


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.connections = Gauge(
            "lca_ws_connections", "Open WebSocket connections", ["role"], registry=registry
        )
        self.chat_ingest = Histogram(
            "lca_chat_ingest_seconds",
            "Chat receive-to-acknowledge latency",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self._room_connections: dict[tuple[str, str], int] = {}
        self.rejected = Counter(
            "lca_ws_rejected", "Client messages refused, by error code", ["code"], registry=registry
        )

    def connected(self, room_id: str, role: str, delta: int) -> None:
        """Count a WebSocket joining (+1) or leaving (-1) a room, per role."""
        self.connections.labels(role).inc(delta)
        key = (room_id, role)
        count = self._room_connections.get(key, 0) + delta
        if count > 0:
            self._room_connections[key] = count
        else:
            self._room_connections.pop(key, None)

    def room_connections(self, room_id: str) -> dict[str, int]:
        return {role: n for (room, role), n in self._room_connections.items() if room == room_id}

    def watch(self, bus: EventBus, triage: Triage) -> None:
        self.registry.register(_LiveState(bus, triage))
