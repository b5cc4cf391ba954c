"""The one owner of each room's stage product: host pin > the anchor's product > vision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.events import (
    CatalogUpdated,
    Event,
    StageChanged,
    StageSet,
    StageSource,
    Subtitle,
    VisionUpdate,
)

if TYPE_CHECKING:
    from assistant.bus import EventBus, Listener
    from assistant.plugins import RoomInfo
    from assistant.store import Store

STATE_KEY = "stage"
_TYPES = ("stage.set", "subtitle", "vision.update", "catalog.updated")


@dataclass
class _Room:
    skus: set[str]
    pin: str | None = None
    anchor: str | None = None
    vision: str | None = None
    current: StageChanged | None = None
    subs: list[Listener] = field(default_factory=list)

    def decide(self) -> tuple[str | None, StageSource]:
        order: tuple[tuple[str | None, StageSource], ...] = (
            (self.pin, "pin"),
            (self.anchor, "anchor"),
            (self.vision, "vision"),
        )
        for sku, source in order:
            if sku is not None and sku in self.skus:
                return sku, source
        return None, "none"


class StageOwner:
    """Follows pins, what the anchor is saying and what vision sees; publishes ``stage``.

    Every capability reads the ``stage`` event (or ``current``) instead of tracking the stage
    itself, so the answerer, recommend and the cards never disagree about "这个".
    """

    def __init__(self, bus: EventBus, store: Store) -> None:
        self.bus = bus
        self.store = store
        self.rooms: dict[str, _Room] = {}

    async def open_room(self, info: RoomInfo) -> None:
        if info.room_id in self.rooms:
            return
        room = _Room(skus={p.sku for p in info.catalog.products})
        saved = await self.store.state(info.room_id, STATE_KEY)
        if saved is not None and isinstance(saved.get("pin"), str):
            room.pin = saved["pin"]
        self.rooms[info.room_id] = room
        room.subs.append(await self.bus.on(info.room_id, self._on_event, _TYPES))
        await self._publish(info.room_id, room)

    def current(self, room_id: str) -> StageChanged | None:
        room = self.rooms.get(room_id)
        return room.current if room is not None else None

    def sku(self, room_id: str) -> str | None:
        current = self.current(room_id)
        return current.sku if current is not None else None

    def close(self) -> None:
        for room in self.rooms.values():
            for sub in room.subs:
                sub.close("stage owner closed")
        self.rooms.clear()

    async def _on_event(self, event: Event) -> None:
        room = self.rooms.get(event.room_id)
        if room is None:
            return
        if isinstance(event, StageSet):
            room.pin = event.sku
            await self.store.put_state(event.room_id, STATE_KEY, {"pin": event.sku})
        elif isinstance(event, Subtitle):
            # Only what the anchor sells moves the stage: an answer about another product or a
            # filler line does not.
            if event.kind != "script" or event.sku is None:
                return
            room.anchor = event.sku
        elif isinstance(event, VisionUpdate):
            room.vision = None if event.stage.pinned else event.stage.sku
        elif isinstance(event, CatalogUpdated):
            room.skus = {p.sku for p in event.products}
        await self._publish(event.room_id, room)

    async def _publish(self, room_id: str, room: _Room) -> None:
        sku, source = room.decide()
        if room.current is not None and (room.current.sku, room.current.source) == (sku, source):
            return
        if room.current is None and sku is None:
            room.current = StageChanged(room_id=room_id, sku=None, source="none")
            return
        room.current = StageChanged(room_id=room_id, sku=sku, source=source)
        await self.bus.publish(room.current)
