"""After a bus gap, what this instance's readers missed comes back from the store."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from assistant.events import Answer, BusGap, Event

if TYPE_CHECKING:
    from assistant.bus import EventBus, Listener
    from assistant.plugins import RoomInfo
    from assistant.store import Store

log = logging.getLogger(__name__)
# Stream ids are milliseconds of the server's clock; look back a little further than the id.
MARGIN_S = 2.0


class GapRecovery:
    """On ``bus.gap``, the room's chat lines and answers since the gap are read from the store
    and handed to this instance's readers again; the bus drops the ones they already had."""

    def __init__(self, bus: EventBus, store: Store) -> None:
        self.bus = bus
        self.store = store
        self.recovered = 0
        self._subs: list[Listener] = []

    async def open_room(self, info: RoomInfo) -> None:
        self._subs.append(await self.bus.on(info.room_id, self._on_gap, ["bus.gap"]))

    async def _on_gap(self, event: Event) -> None:
        if not isinstance(event, BusGap):
            return
        ms = event.missed_after.partition("-")[0]
        since = int(ms) / 1000 - MARGIN_S if ms.isdigit() else 0.0
        missed: list[Event] = [
            r.chat for r in await self.store.chats(event.room_id, since=since, limit=2000)
        ]
        for body in await self.store.outputs(event.room_id, "answer", limit=500):
            try:
                answer = Answer.model_validate(body)
            except ValidationError:
                continue
            if answer.ts >= since:
                missed.append(answer)
        replayed = 0
        for item in sorted(missed, key=lambda e: e.ts):
            replayed += await self.bus.replay(item)
        self.recovered += replayed
        log.warning("room %s: %d events recovered from the store after a gap", event.room_id,
                    replayed)  # fmt: skip

    def close(self) -> None:
        for sub in self._subs:
            sub.close("recovery closed")
