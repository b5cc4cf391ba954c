"""In-process bus: dispatch is a direct hand-off to local subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.bus.base import EventBus

if TYPE_CHECKING:
    from assistant.events import Event


class MemoryBus(EventBus):
    name = "memory"

    async def _local(self, event: Event) -> None:
        await self._fan_out(event)
        for group in self._groups(event.room_id):
            await self._to_group(event, group)
