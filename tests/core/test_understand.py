"""The understanding step on its own: rules, batching of model work, the flood bound, updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.embedders import EmbedderPool
from assistant.events import CatalogUpdated, Chat, User
from assistant.plugins import RoomInfo
from assistant.stage import StageOwner
from assistant.store import SqliteStore
from assistant.understand.rules import intent_of, is_spam
from assistant.understand.service import Understander
from assistant.understand.settings import UnderstandSettings
from assistant.understand.text import sound_bigrams
from tests.fakes.recommend_embedders import HashingEmbedder

ROOM = "r1"
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo_catalog.json"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("怎么下单呀", "how_to_buy"),
        ("几号链接", "how_to_buy"),
        ("耳机多少前", "price"),
        ("还有货吗", "stock"),
        ("西藏包油吗", "shipping"),
        ("拆了能退吗", "returns"),
        ("能开发票吗", "invoice"),
        ("可以花呗分期吗", "payment"),
        ("165 55kg穿什么码", "size_advice"),
        ("316和304哪个保温久", "compare"),
        ("送妈妈什么好", "recommendation"),
        ("有没有便宜点的", "recommendation"),
        ("主播晚上好", "greeting"),
        ("哈哈哈哈", "chitchat"),
        ("明天天气怎么样", "offtopic"),
        ("how do I buy", "how_to_buy"),
        ("is it in stock", "stock"),
    ],
)
def test_one_intent_vocabulary(text: str, intent: str) -> None:
    assert intent_of(text) == intent


def test_spam_and_sounds() -> None:
    assert is_spam("加微信 abc123 私聊我") and is_spam("!!!!") and not is_spam("多少钱")
    assert sound_bigrams("保问杯") == sound_bigrams("保温杯")  # a homophone typo sounds the same


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Understander, HashingEmbedder, MemoryBus]]:
    bus, store = MemoryBus(), SqliteStore(tmp_path / "u.sqlite3")
    embedder, pool = HashingEmbedder(name="use"), EmbedderPool()
    pool.put(embedder)
    stage = StageOwner(bus, store)
    understander = Understander(UnderstandSettings(max_pending=4), bus, stage, pool)
    catalog = Catalog.model_validate_json(DEMO.read_text())
    info = RoomInfo(room_id=ROOM, title="t", mode="host", language="zh", catalog=catalog)
    await stage.open_room(info)
    await understander.open_room(info)
    yield understander, embedder, bus
    understander.close()
    stage.close()
    await bus.close()
    await store.close()


def chat(text: str, user: str) -> Chat:
    return Chat(room_id=ROOM, user=User(id=user, name=user), text=text)


async def test_lines_waiting_together_share_one_model_call_and_keep_their_order(
    rig: tuple[Understander, HashingEmbedder, MemoryBus],
) -> None:
    understander, embedder, _ = rig
    before = embedder.calls
    texts = ["帐篷下雨能用吗", "奶瓶能用开水烫吗", "耳机多少钱", "主播好", "扫地机能扫多久"]
    reads = await asyncio.gather(
        *(understander.read(chat(t, f"u{i}")) for i, t in enumerate(texts))
    )
    assert [u.intent for u in reads][2:4] == ["price", "greeting"]
    assert reads[0].sku == "SP-TENT-AUTO-4" and reads[2].sku == "EL-EAR-TWS-ANC"
    assert embedder.calls - before <= 2  # a batch, not a call per line


async def test_a_flood_is_read_by_names_alone_past_the_bound(
    rig: tuple[Understander, HashingEmbedder, MemoryBus],
) -> None:
    understander, embedder, _ = rig
    before = embedder.texts_embedded
    # words that leave the fact open: each line would need the embedder
    lines = [chat(f"帐篷第{i}回问 会不会很难弄", f"v{i}") for i in range(40)]
    reads = await asyncio.gather(*(understander.read(line) for line in lines))
    assert all(u.sku == "SP-TENT-AUTO-4" for u in reads)  # names still link every line
    assert 0 < embedder.texts_embedded - before <= 4  # only the lines within the bound


async def test_a_new_catalog_is_read_at_once(
    rig: tuple[Understander, HashingEmbedder, MemoryBus],
) -> None:
    understander, _, bus = rig
    gone = await understander.read(chat("耳机多少钱", "a"))
    assert gone.sku == "EL-EAR-TWS-ANC"
    catalog = Catalog.model_validate_json(DEMO.read_text())
    kept = [p for p in catalog.products if p.sku != "EL-EAR-TWS-ANC"]
    await bus.publish(CatalogUpdated(room_id=ROOM, products=kept))
    async with asyncio.timeout(5):
        while (await understander.read(chat("耳机多少钱", "b"))).sku is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
