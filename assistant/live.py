"""What each room shows right now: product card, last answer, last vision read, latencies."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from assistant.catalog import Catalog
from assistant.errors import NotFound
from assistant.events import (
    Answer,
    CatalogUpdated,
    ChatTriaged,
    Event,
    Frame,
    ProductCard,
    Script,
    ScriptRequest,
    StageChanged,
    Subtitle,
    VisionUpdate,
)

if TYPE_CHECKING:
    from assistant.bus import EventBus, Listener
    from assistant.plugins import RoomInfo

# Frames kept per room, so the console can fetch the very frame a vision update describes.
FRAMES_KEPT = 4
PENDING_KEPT = 1024
LATENCY_WINDOW = 256
CardSource = Literal["vision", "pin", "anchor"]
_TYPES = (
    "frame",
    "vision.update",
    "stage",
    "subtitle",
    "answer",
    "catalog.updated",
    "chat.triaged",
    "script.request",
    "script",
)


class LiveSnapshot(BaseModel):
    """What any member of a room may see: the overlay's state after a (re)connect."""

    card: ProductCard | None = None
    answer: Answer | None = None
    subtitle: Subtitle | None = None


class Latency(BaseModel):
    count: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass
class _Room:
    catalog: Catalog
    card: ProductCard | None = None
    answer: Answer | None = None
    subtitle: Subtitle | None = None
    vision: VisionUpdate | None = None
    frames: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    # When each question was accepted and each script asked for, to time their answers.
    pending: OrderedDict[str, float] = field(default_factory=OrderedDict)
    latencies: dict[str, deque[float]] = field(default_factory=dict)

    def observe(self, name: str, seconds: float) -> None:
        window = self.latencies.setdefault(name, deque(maxlen=LATENCY_WINDOW))
        window.append(max(seconds, 0.0))

    def started(self, key: str, ts: float) -> None:
        self.pending[key] = ts
        while len(self.pending) > PENDING_KEPT:
            self.pending.popitem(last=False)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class LiveView:
    """Follows every room's bus; publishes a ``product.card`` when the ``stage`` event changes."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.rooms: dict[str, _Room] = {}
        self._subs: list[Listener] = []

    async def open_room(self, info: RoomInfo) -> None:
        if info.room_id in self.rooms:
            return
        self.rooms[info.room_id] = _Room(catalog=info.catalog)
        self._subs.append(await self.bus.on(info.room_id, self._on_event, _TYPES))

    def close(self) -> None:
        for sub in self._subs:
            sub.close("live view closed")
        self._subs.clear()

    def _room(self, room_id: str) -> _Room:
        room = self.rooms.get(room_id)
        if room is None:
            raise NotFound(f"room {room_id!r} is not open here")
        return room

    # -- reading -------------------------------------------------------------------------------

    def snapshot(self, room_id: str) -> LiveSnapshot:
        room = self._room(room_id)
        return LiveSnapshot(card=room.card, answer=room.answer, subtitle=room.subtitle)

    def vision(self, room_id: str) -> VisionUpdate | None:
        return self._room(room_id).vision

    def frame(self, room_id: str, frame_id: str) -> bytes:
        data = self._room(room_id).frames.get(frame_id)
        if data is None:
            raise NotFound(f"frame {frame_id!r} is no longer kept")
        return data

    def latencies(self, room_id: str) -> dict[str, Latency]:
        out: dict[str, Latency] = {}
        for name, window in self._room(room_id).latencies.items():
            values = list(window)
            out[name] = Latency(
                count=len(values),
                p50_ms=round(_percentile(values, 0.5) * 1000, 1),
                p95_ms=round(_percentile(values, 0.95) * 1000, 1),
            )
        return out

    # -- following the bus ---------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        room = self.rooms.get(event.room_id)
        if room is None:
            return
        if isinstance(event, Frame):
            room.frames[event.id] = event.data
            while len(room.frames) > FRAMES_KEPT:
                room.frames.popitem(last=False)
        elif isinstance(event, VisionUpdate):
            room.vision = event
            room.observe("vision", event.latency_ms / 1000)
        elif isinstance(event, StageChanged):
            if event.sku is not None and event.source != "none":
                await self._show(room, event.room_id, event.sku, event.source)
        elif isinstance(event, Subtitle):
            room.subtitle = event
        elif isinstance(event, CatalogUpdated):
            room.catalog = event.catalog
            if room.card is not None and room.catalog.get(room.card.sku) is None:
                room.card = None  # a product taken off the catalog is not shown on reconnect
            elif room.card is not None:
                await self._show(room, event.room_id, room.card.sku, room.card.source)
        else:
            self._time(room, event)

    def _time(self, room: _Room, event: Event) -> None:
        if isinstance(event, ChatTriaged):
            room.started(event.chat.id, event.chat.ts)
        elif isinstance(event, ScriptRequest):
            room.started(event.id, event.ts)
        elif isinstance(event, Answer):
            room.answer = event
            asked = room.pending.pop(event.chat_id, None)
            if asked is not None:
                room.observe("answer", event.ts - asked)
        elif isinstance(event, Script):
            asked = room.pending.pop(event.request_id, None)
            if asked is not None:
                room.observe("script", event.ts - asked)

    async def _show(self, room: _Room, room_id: str, sku: str, source: CardSource) -> None:
        product = room.catalog.get(sku)
        if product is None:
            return
        card = ProductCard(
            room_id=room_id,
            sku=product.sku,
            title=product.title,
            price=product.price,
            list_price=product.list_price,
            point=product.selling_points[0] if product.selling_points else "",
            stock=product.stock,
            source=source,
        )
        same = {"id", "ts", "source"}
        if room.card is not None and room.card.model_dump(exclude=same) == card.model_dump(
            exclude=same
        ):
            return
        room.card = card
        await self.bus.publish(card)
