"""Runs each room's connectors: start, stop, status, reconnects, answers posted back."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from assistant.bus import EventBus, Handler, Listener
from assistant.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorStatus,
    Replier,
    SourceEnded,
)
from assistant.connectors.sink import ConnectorMetrics, RoomSink
from assistant.connectors.specs import (
    ConnectorSettings,
    ConnectorSpec,
    RelaySpec,
    StreamSpec,
    build,
)
from assistant.errors import AssistantError, Forbidden, Invalid, NotFound, Unauthorized
from assistant.events import Answer, Event, new_id
from assistant.supervise import Backoff
from assistant.tasks import TaskSet
from assistant.triage import Triage

log = logging.getLogger(__name__)


def _local(spec: StreamSpec) -> bool:
    """A stream that reads a file of this machine or listens on one of its ports."""
    return spec.listen or urlsplit(spec.url).scheme.lower() in {"", "file"}


@dataclass
class Running:
    """One connector of one room, with what it feeds and how it is doing."""

    spec: ConnectorSpec
    connector: Connector
    sink: RoomSink
    status: ConnectorStatus
    token: str | None = None  # a relay's bearer token
    task: asyncio.Task[None] | None = None
    listener: Listener | None = field(default=None, repr=False)


class Connectors:
    """Every connector this instance runs. A connector lives on the instance that started it;
    the ones in ``LCA_CONNECTORS__ROOMS`` start with the service."""

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        bus: EventBus,
        triage: Triage,
        registry: CollectorRegistry,
        max_frame_bytes: int,
        factory: Callable[[ConnectorSpec], Connector] = build,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.triage = triage
        self.metrics = ConnectorMetrics(registry)
        self.max_frame_bytes = max_frame_bytes
        self.factory = factory
        self.backoff = Backoff(first_s=settings.backoff_first_s, max_s=settings.backoff_max_s)
        self._rooms: dict[str, dict[str, Running]] = {}
        self._tasks = TaskSet()

    async def start_configured(self, known: set[str]) -> None:
        for room_id, specs in self.settings.rooms.items():
            if room_id not in known:
                log.error("connectors configured for unknown room %s: not started", room_id)
                continue
            for spec in specs:
                try:
                    await self.start(room_id, spec)
                except AssistantError as exc:  # one bad entry must not keep the service down
                    log.error("connector %s for room %s not started: %s", spec.kind, room_id, exc)

    async def start(self, room_id: str, spec: ConnectorSpec) -> Running:
        room = self._rooms.setdefault(room_id, {})
        if len(room) >= self.settings.max_per_room:
            raise Invalid(f"a room runs at most {self.settings.max_per_room} connectors")
        if isinstance(spec, StreamSpec) and not self.settings.allow_local_sources and _local(spec):
            raise Forbidden(
                "files and listening ports of this machine need"
                " LCA_CONNECTORS__ALLOW_LOCAL_SOURCES=true"
            )
        cid = f"{spec.kind}-{new_id()[:8]}"
        status = ConnectorStatus(id=cid, kind=spec.kind, state="starting", since=time.time())
        platform = spec.platform if isinstance(spec, RelaySpec) else spec.kind
        sink = RoomSink(
            room_id=room_id,
            kind=spec.kind,
            platform=platform,
            status=status,
            triage=self.triage,
            bus=self.bus,
            metrics=self.metrics,
            max_frame_bytes=self.max_frame_bytes,
            activity_per_s=self.settings.activity_per_s,
        )
        try:
            connector = self.factory(spec)
        except ConnectorError as exc:
            status.state, status.last_error = "failed", exc.message
            raise Invalid(exc.message) from exc
        running = Running(spec, connector, sink, status)
        if isinstance(spec, RelaySpec):
            given = spec.token.get_secret_value() if spec.token else None
            running.token = given or secrets.token_urlsafe(24)
        room[cid] = running
        running.task = self._tasks.spawn(self._run(running), f"connector-{room_id}-{cid}")
        if isinstance(connector, Replier):
            running.listener = await self.bus.on(room_id, self._replier(running), ["answer"])
        return running

    def statuses(self, room_id: str) -> list[ConnectorStatus]:
        return [r.status.model_copy() for r in self._rooms.get(room_id, {}).values()]

    def get(self, room_id: str, cid: str) -> Running:
        running = self._rooms.get(room_id, {}).get(cid)
        if running is None:
            raise NotFound(f"no connector {cid!r} in this room")
        return running

    def relay(self, room_id: str, cid: str, token: str | None) -> Running:
        """The relay connector a capture tool posts to, once its token checks out."""
        running = self._rooms.get(room_id, {}).get(cid)
        if (
            running is None
            or running.token is None
            or token is None
            or not secrets.compare_digest(running.token, token)
        ):
            raise Unauthorized("missing or invalid relay token")
        return running

    async def stop(self, room_id: str, cid: str) -> ConnectorStatus:
        running = self.get(room_id, cid)
        del self._rooms[room_id][cid]
        await self._halt(running)
        running.status.state = "stopped"
        return running.status

    async def close(self) -> None:
        for room in self._rooms.values():
            for running in room.values():
                await self._halt(running)
        self._rooms.clear()
        await self._tasks.cancel()

    async def _halt(self, running: Running) -> None:
        if running.listener is not None:
            running.listener.close()
        if running.task is not None:
            running.task.cancel()
            await asyncio.gather(running.task, return_exceptions=True)

    async def _run(self, running: Running) -> None:
        """Run until the source ends or refuses for good; reconnect after anything else."""
        status, failures = running.status, 0
        while True:
            started = time.monotonic()
            try:
                await running.connector.run(running.sink)
                status.state, status.detail = "ended", "the source ended"
                return
            except SourceEnded as exc:
                status.state, status.detail = "ended", exc.message
                return
            except ConnectorError as exc:
                status.last_error = exc.message
                if not exc.retryable:
                    status.state = "failed"
                    return
            except Exception as exc:
                log.exception("connector %s failed", status.id)
                status.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if time.monotonic() - started > self.backoff.healthy_after_s:
                failures = 0
            failures += 1
            status.state, status.reconnects = "reconnecting", status.reconnects + 1
            self.metrics.reconnects.labels(status.kind).inc()
            await asyncio.sleep(self.backoff.delay(failures))

    def _replier(self, running: Running) -> Handler:
        connector = running.connector
        assert isinstance(connector, Replier)
        kind = running.status.kind

        async def post(event: Event) -> None:
            if not isinstance(event, Answer) or event.flagged:
                return
            asked = running.sink.question_for(event.chat_id)
            if asked is None:
                return  # a question from this service's own viewers, not the platform's
            try:
                posted = await connector.reply(event.text, asked)
            except ConnectorError as exc:
                running.status.last_error = exc.message
                posted = False
            outcome = "posted" if posted else "dropped"
            self.metrics.replies.labels(kind, outcome).inc()
            running.status.replies += posted

        return post
