"""Picks a bus backend by name from the settings, importing it lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.errors import BackendUnavailable

if TYPE_CHECKING:
    from assistant.bus.base import EventBus
    from assistant.settings import BusSettings


def create_bus(settings: BusSettings) -> EventBus:
    if settings.backend == "memory":
        from assistant.bus.memory import MemoryBus

        return MemoryBus(
            queue_size=settings.queue_size,
            slow_consumer_timeout=settings.slow_consumer_timeout,
            outbox_size=settings.outbox_size,
        )
    if settings.backend == "redis":
        from assistant.bus.redis import RedisBus

        return RedisBus(settings)
    raise BackendUnavailable(f"unknown bus backend {settings.backend!r}", retryable=False)
