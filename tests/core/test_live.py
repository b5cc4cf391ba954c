"""LiveView behind the stage owner on an in-memory bus: cards, pins, catalog updates, latencies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from assistant.bus import Subscription
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog, Product
from assistant.errors import NotFound
from assistant.events import (
    Answer,
    CatalogUpdated,
    Chat,
    ChatTriaged,
    Event,
    Frame,
    ProductCard,
    Script,
    ScriptRequest,
    StageInfo,
    StageSet,
    Subtitle,
    User,
    VisionUpdate,
)
from assistant.live import FRAMES_KEPT, LiveView
from assistant.plugins import RoomInfo
from assistant.stage import StageOwner
from assistant.store import SqliteStore
from assistant.understand.types import Understanding
from tests.waits import until as wait_until

ROOM = "room-1"
PRODUCTS = [
    Product(
        sku="CUP-1",
        title="保温杯 500ml",
        price=69.0,
        list_price=99.0,
        stock=10,
        category="home",
        selling_points=["316不锈钢内胆", "12小时保温"],
    ),
    Product(sku="TEA-2", title="龙井礼盒", price=268.0, stock=3, category="food"),
    Product(
        sku="EAR-3",
        title="降噪耳机",
        price=299.0,
        stock=0,
        category="electronics",
        selling_points=["主动降噪"],
    ),
]


@dataclass
class Live:
    bus: MemoryBus
    view: LiveView
    cards: Subscription

    async def send(self, *events: Event) -> None:
        for event in events:
            await self.bus.publish(event)

    async def settle(self) -> list[ProductCard]:
        """Wait until the stage owner and the view have handled everything sent so far (a card
        takes two hops: the owner's ``stage`` event, then the view); return the cards sent."""
        cards: list[Event] = []
        for _ in range(3):
            marker = Subtitle(room_id=ROOM, utterance_id="marker", text="…", kind="filler")
            await self.bus.publish(marker)
            await until(lambda: self.snapshot_subtitle_id() == marker.id)  # noqa: B023
            await asyncio.sleep(0.01)  # the owner's pin write goes through the store's thread
            cards += self.cards.drain(100)
        assert all(isinstance(card, ProductCard) for card in cards)
        return [card for card in cards if isinstance(card, ProductCard)]

    def snapshot_subtitle_id(self) -> str | None:
        subtitle = self.view.snapshot(ROOM).subtitle
        return subtitle.id if subtitle else None


# state a bus handler updates within a few loop turns: look often
until = partial(wait_until, timeout=2.0, poll=0.001)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    bus, store = MemoryBus(), SqliteStore(tmp_path / "live.sqlite3")
    view, stage = LiveView(bus), StageOwner(bus, store)
    info = RoomInfo(
        room_id=ROOM, title="t", mode="host", language="zh", catalog=Catalog(products=PRODUCTS)
    )
    await view.open_room(info)
    await stage.open_room(info)
    cards = await bus.subscribe(ROOM, ["product.card"])
    yield Live(bus, view, cards)
    cards.close()
    stage.close()
    view.close()
    await bus.close()
    await store.close()


def seen(sku: str | None, frame_id: str = "f", latency_ms: float = 0.0) -> VisionUpdate:
    stage = StageInfo(sku=sku, confidence=0.9)
    return VisionUpdate(
        room_id=ROOM, frame_id=frame_id, width=640, height=360, stage=stage, latency_ms=latency_ms
    )


async def test_vision_update_publishes_one_card(live: Live) -> None:
    product = PRODUCTS[0]
    await live.send(seen(product.sku))
    (card,) = await live.settle()
    assert card.type == "product.card" and card.room_id == ROOM
    assert (card.sku, card.title, card.price) == (product.sku, product.title, product.price)
    assert (card.list_price, card.stock) == (product.list_price, product.stock)
    assert card.point == product.selling_points[0]
    assert card.source == "vision"
    assert live.view.snapshot(ROOM).card == card
    await live.send(seen(product.sku, frame_id="f2"), seen(product.sku, frame_id="f3"))
    assert await live.settle() == []


async def test_product_without_selling_points_has_empty_point(live: Live) -> None:
    await live.send(seen(PRODUCTS[1].sku))
    (card,) = await live.settle()
    assert card.sku == PRODUCTS[1].sku and card.point == ""


async def test_unknown_or_no_sku_publishes_nothing(live: Live) -> None:
    await live.send(seen("NOPE-9"), seen(None), StageSet(room_id=ROOM, sku="NOPE-9"))
    assert await live.settle() == []
    assert live.view.snapshot(ROOM).card is None


async def test_pin_overrides_vision_until_unpinned(live: Live) -> None:
    cup, tea, ear = PRODUCTS
    await live.send(seen(cup.sku))
    assert [c.sku for c in await live.settle()] == [cup.sku]
    await live.send(StageSet(room_id=ROOM, sku=tea.sku))
    (pinned,) = await live.settle()
    assert (pinned.sku, pinned.source) == (tea.sku, "pin")
    await live.send(seen(ear.sku), Subtitle(room_id=ROOM, utterance_id="u", text="x", sku=ear.sku))
    assert await live.settle() == []
    assert live.view.snapshot(ROOM).card == pinned
    # unpinned, what the anchor sells outranks what vision sees
    await live.send(StageSet(room_id=ROOM, sku=None))
    assert [(c.sku, c.source) for c in await live.settle()] == [(ear.sku, "anchor")]


async def test_anchor_subtitle_moves_the_card(live: Live) -> None:
    await live.send(
        Subtitle(room_id=ROOM, utterance_id="u1", text="来看这款耳机", sku=PRODUCTS[2].sku)
    )
    (card,) = await live.settle()
    assert (card.sku, card.source, card.stock) == (PRODUCTS[2].sku, "anchor", PRODUCTS[2].stock)


async def test_catalog_update_republishes_the_card(live: Live) -> None:
    cup = PRODUCTS[0]
    await live.send(seen(cup.sku))
    (before,) = await live.settle()
    cheaper = cup.model_copy(update={"price": cup.price - 10})
    await live.send(CatalogUpdated(room_id=ROOM, products=[cheaper, *PRODUCTS[1:]]))
    (after,) = await live.settle()
    assert (after.sku, after.price, after.source) == (cup.sku, cheaper.price, before.source)
    assert after.id != before.id
    # The same catalog again changes nothing on the card.
    await live.send(CatalogUpdated(room_id=ROOM, products=[cheaper, *PRODUCTS[1:]]))
    assert await live.settle() == []


async def test_product_taken_off_the_catalog_leaves_no_card(live: Live) -> None:
    await live.send(seen(PRODUCTS[0].sku))
    assert len(await live.settle()) == 1
    await live.send(CatalogUpdated(room_id=ROOM, products=PRODUCTS[1:]))
    assert await live.settle() == []
    assert live.view.snapshot(ROOM).card is None


async def test_other_rooms_are_ignored(live: Live) -> None:
    other = await live.bus.subscribe("room-2", ["product.card"])
    await live.send(
        VisionUpdate(
            room_id="room-2",
            frame_id="f",
            width=1,
            height=1,
            stage=StageInfo(sku="CUP-1", confidence=1),
        )
    )
    assert await live.settle() == []
    assert other.drain(10) == []
    other.close()
    with pytest.raises(NotFound):
        live.view.snapshot("room-2")


async def test_latencies(live: Live) -> None:
    chat = Chat(room_id=ROOM, user=User(id="v1", name="小王"), text="多少钱？", ts=1000.0)
    understood = Understanding(intent="price", priority=0.9)
    triaged = ChatTriaged(room_id=ROOM, chat=chat, understanding=understood)
    answer = Answer(room_id=ROOM, chat_id=chat.id, text="69元", ts=chat.ts + 1.25)
    stray = Answer(room_id=ROOM, chat_id="never-asked", text="?", ts=chat.ts + 9)
    request = ScriptRequest(room_id=ROOM, ts=2000.0)
    script = Script(
        room_id=ROOM, request_id=request.id, sku=None, text="…", style="gentle", ts=2003.5
    )
    vision = seen(None, latency_ms=42.5)
    # A second answer to the same question must not be timed again.
    again = answer.model_copy(update={"id": "again", "ts": answer.ts + 5})
    await live.send(triaged, answer, again, stray, request, script, vision)
    await live.settle()
    latencies = live.view.latencies(ROOM)
    assert set(latencies) == {"answer", "script", "vision"}
    answer_ms = round((answer.ts - chat.ts) * 1000, 1)
    script_ms = round((script.ts - request.ts) * 1000, 1)
    assert latencies["answer"].model_dump() == {
        "count": 1,
        "p50_ms": answer_ms,
        "p95_ms": answer_ms,
    }
    assert latencies["script"].model_dump() == {
        "count": 1,
        "p50_ms": script_ms,
        "p95_ms": script_ms,
    }
    assert latencies["vision"].count == 1 and latencies["vision"].p50_ms == vision.latency_ms
    assert live.view.vision(ROOM) == vision


async def test_snapshot_holds_the_latest(live: Live) -> None:
    assert live.view.snapshot(ROOM).model_dump() == {"card": None, "answer": None, "subtitle": None}
    first = Answer(room_id=ROOM, chat_id="c1", text="第一个回答")
    second = Answer(room_id=ROOM, chat_id="c2", text="第二个回答")
    await live.send(seen("CUP-1"), first, StageSet(room_id=ROOM, sku="TEA-2"), second)
    *_, card = await live.settle()
    subtitle = Subtitle(room_id=ROOM, utterance_id="u9", text="最后一句", kind="answer")
    await live.send(subtitle)
    await until(lambda: live.view.snapshot(ROOM).subtitle == subtitle)
    snapshot = live.view.snapshot(ROOM)
    assert (snapshot.card, snapshot.answer, snapshot.subtitle) == (card, second, subtitle)
    assert card.sku == "TEA-2"


async def test_frames_keep_only_the_newest(live: Live) -> None:
    frames = [
        Frame(room_id=ROOM, data=b"\x89PNG\r\n\x1a\n" + bytes([i])) for i in range(FRAMES_KEPT + 2)
    ]

    def kept(frame_id: str) -> bool:
        try:
            live.view.frame(ROOM, frame_id)
        except NotFound:
            return False
        return True

    for frame in frames:
        # Frames are lossy on the bus (the newest wins): let each land before the next.
        await live.send(frame)
        await until(lambda: kept(frame.id))  # noqa: B023
    for frame in frames[-FRAMES_KEPT:]:
        assert live.view.frame(ROOM, frame.id) == frame.data
    for frame in frames[:-FRAMES_KEPT]:
        with pytest.raises(NotFound):
            live.view.frame(ROOM, frame.id)
    with pytest.raises(NotFound):
        live.view.frame("room-2", frames[-1].id)
