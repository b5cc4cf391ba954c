"""Chat triage: priority ordering, dedupe links, spam and backlog skips, all persisted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.embedders import EmbedderPool
from assistant.errors import RateLimited
from assistant.events import Answer, Chat, ChatSkipped, StageSet, User
from assistant.plugins import RoomInfo
from assistant.settings import TriageSettings
from assistant.stage import StageOwner
from assistant.store import SqliteStore, Store
from assistant.triage import Triage
from assistant.understand.service import Understander
from assistant.understand.settings import UnderstandSettings

ROOM = "r1"
DEMO_CATALOG = Path(__file__).resolve().parents[2] / "data" / "demo_catalog.json"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = SqliteStore(tmp_path / "t.sqlite3")
    yield store
    await store.close()


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def make(store: Store, clock: Clock | None = None, **overrides: float) -> tuple[Triage, MemoryBus]:
    bus = MemoryBus()
    settings = TriageSettings(**{"rate_per_minute": 600, "burst": 50, **overrides})
    stage = StageOwner(bus, store)
    understander = Understander(UnderstandSettings(embedder="none"), bus, stage, EmbedderPool())
    return Triage(settings, store, bus, understander, clock=clock or Clock()), bus


def chat(text: str, user: str = "u1", ts: float | None = None) -> Chat:
    message = Chat(room_id=ROOM, user=User(id=user, name=user), text=text)
    return message if ts is None else message.model_copy(update={"ts": ts})


async def test_buying_intent_outranks_greetings(store: Store) -> None:
    triage, _ = make(store)
    texts = ["主播晚上好", "哈哈哈哈", "这个怎么下单？", "M码适合多重的人", "今天天气不错"]
    for i, text in enumerate(texts):
        await triage.ingest(chat(text, user=f"u{i}"))
    order = [(await triage.next(ROOM)).chat.text for _ in texts]
    assert order == ["这个怎么下单？", "M码适合多重的人", "哈哈哈哈", "主播晚上好", "今天天气不错"]


async def test_equal_priority_is_first_come_first_served(store: Store) -> None:
    triage, _ = make(store)
    for i in range(3):
        await triage.ingest(chat(f"{i}号链接多少钱", user=f"u{i}", ts=1000.0 + i))
    assert [(await triage.next(ROOM)).chat.text for _ in range(3)] == [
        "0号链接多少钱",
        "1号链接多少钱",
        "2号链接多少钱",
    ]


async def test_spam_is_skipped_with_reason(store: Store) -> None:
    triage, bus = make(store)
    sub = await bus.subscribe(ROOM, ["chat.skipped"])
    accepted = await triage.ingest(chat("加微信 abc123 低价代购"))
    assert accepted.status == "skipped" and accepted.reason == "spam"
    skipped = await asyncio.wait_for(sub.get(), 1)
    assert isinstance(skipped, ChatSkipped) and skipped.reason == "spam"
    [record] = await store.chats(ROOM)
    assert (record.status, record.reason) == ("skipped", "spam")
    assert triage.skipped["spam"] == 1


async def test_near_duplicates_link_to_first(store: Store) -> None:
    triage, bus = make(store)
    first = await triage.ingest(chat("这个保温杯多少钱？", user="a"))
    dup = await triage.ingest(chat("这个保温杯多少钱啊", user="b"))
    other = await triage.ingest(chat("羽绒服有XL码吗", user="c"))
    assert dup.dup_of == first.chat_id
    assert other.dup_of is None
    assert {(await triage.next(ROOM)).chat.id for _ in range(2)} == {first.chat_id, other.chat_id}
    await triage.resolve(ROOM, first.chat_id, "answered", answer="129元")
    records = {r.chat.id: r for r in await store.chats(ROOM)}
    assert records[dup.chat_id].status == "answered"
    assert records[dup.chat_id].answer == "129元"
    answers = await bus.subscribe(ROOM, ["answer"])
    late = await triage.ingest(chat("这个保温杯多少钱?", user="d"))
    assert late.status == "answered"
    answer = await asyncio.wait_for(answers.get(), 1)
    assert isinstance(answer, Answer) and answer.user_ids == ["d"] and answer.text == "129元"


async def test_duplicates_expire_after_window(store: Store) -> None:
    clock = Clock()
    triage, _ = make(store, clock, dedupe_window_s=30)
    first = await triage.ingest(chat("发什么快递", user="a"))
    clock.now += 29
    within = await triage.ingest(chat("发什么快递", user="b"))
    clock.now += 31
    again = await triage.ingest(chat("发什么快递", user="c"))
    assert within.dup_of == first.chat_id and again.dup_of is None


async def test_full_backlog_skips_lowest_and_oldest(store: Store) -> None:
    triage, _ = make(store, backlog_size=3)
    low_old = await triage.ingest(chat("主播好呀", user="a", ts=1.0))
    low_new = await triage.ingest(chat("大家晚上好", user="b", ts=2.0))
    await triage.ingest(chat("多少钱一件", user="c", ts=3.0))
    urgent = await triage.ingest(chat("怎么下单呀", user="d", ts=4.0))
    statuses = {r.chat.id: (r.status, r.reason) for r in await store.chats(ROOM)}
    assert statuses[low_old.chat_id] == ("skipped", "backlog")
    assert statuses[low_new.chat_id] == ("queued", None)
    assert statuses[urgent.chat_id] == ("queued", None)
    greeting = await triage.ingest(chat("哈哈哈", user="e", ts=5.0))
    statuses = {r.chat.id: (r.status, r.reason) for r in await store.chats(ROOM)}
    assert statuses[greeting.chat_id] in {("skipped", "backlog"), ("queued", None)}
    assert sum(1 for s in statuses.values() if s == ("skipped", "backlog")) == 2
    assert triage.backlog_sizes()[ROOM] == 3
    assert triage.skipped["backlog"] == 2


async def test_rate_limit_per_viewer(store: Store) -> None:
    clock = Clock()
    triage, _ = make(store, clock, rate_per_minute=1, burst=2)
    await triage.ingest(chat("一号多少钱", user="a"))
    await triage.ingest(chat("二号多少钱", user="a"))
    with pytest.raises(RateLimited):
        await triage.ingest(chat("三号多少钱", user="a"))
    await triage.ingest(chat("三号多少钱", user="b"))
    assert len(await store.chats(ROOM)) == 3
    clock.now += 60  # one more line a minute
    await triage.ingest(chat("四号多少钱", user="a"))
    with pytest.raises(RateLimited):
        await triage.ingest(chat("五号多少钱", user="a"))


async def test_restore_brings_back_queued(store: Store) -> None:
    triage, _ = make(store)
    ids = {
        (await triage.ingest(chat(text, user=u))).chat_id
        for text, u in [("尺码偏大吗", "a"), ("怎么下单", "b")]
    }
    answered = (await triage.next(ROOM)).chat.id
    await triage.resolve(ROOM, answered, "answered", answer="ok")
    fresh, _ = make(store)
    assert await fresh.restore(ROOM) == 0  # the first instance holds it: it answers it
    await triage.release()  # a clean stop
    assert await fresh.restore(ROOM) == 1
    assert (await fresh.next(ROOM)).chat.id == (ids - {answered}).pop()


async def test_questions_of_an_instance_that_died_are_taken_over_once(store: Store) -> None:
    """The dead one's lease lapses; the survivor claims its queued question, and the dead
    one, should it wake up, can no longer end it (so it is answered once)."""
    now = [1000.0]
    dead = Triage(TriageSettings(lease_s=15), store, MemoryBus(), make(store)[0].understander,
                  wall=lambda: now[0])  # fmt: skip
    asked = await dead.ingest(chat("尺码偏大吗", user="a"))
    survivor = Triage(TriageSettings(lease_s=15), store, MemoryBus(), dead.understander,
                      wall=lambda: now[0])  # fmt: skip
    assert await survivor.restore(ROOM) == 0
    now[0] += 16  # past the lease: the first instance stopped renewing it
    assert await survivor.restore(ROOM) == 1
    taken = await survivor.next(ROOM)
    assert taken.chat.id == asked.chat_id
    assert not await dead.resolve(ROOM, asked.chat_id, "answered", answer="late")
    assert await survivor.resolve(ROOM, asked.chat_id, "answered", answer="ok")
    (record,) = await store.chats(ROOM)
    assert (record.status, record.answer) == ("answered", "ok")


async def test_the_same_words_about_different_products_are_not_duplicates(store: Store) -> None:
    """ "这个多少钱" under two stage products is two questions, however alike the words."""
    triage, bus = make(store)
    catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text())
    info = RoomInfo(room_id=ROOM, title="t", mode="host", language="zh", catalog=catalog)
    stage = triage.understander.stage
    assert isinstance(stage, StageOwner)
    await stage.open_room(info)
    await triage.understander.open_room(info)

    async def pin(sku: str) -> None:
        await bus.publish(StageSet(room_id=ROOM, sku=sku))
        async with asyncio.timeout(5):
            while stage.sku(ROOM) != sku:  # noqa: ASYNC110 - the owner handles the bus event
                await asyncio.sleep(0.005)

    await pin("HM-CUP-316-500")
    first = await triage.ingest(chat("这个多少钱", user="a"))
    again = await triage.ingest(chat("这个多少钱？", user="b"))
    await pin("EL-AF-5L")
    other = await triage.ingest(chat("这个多少钱", user="c"))
    assert again.dup_of == first.chat_id and other.dup_of is None
    triaged = [await triage.next(ROOM) for _ in range(2)]
    assert [t.understanding.sku for t in triaged] == ["HM-CUP-316-500", "EL-AF-5L"]
    triage.understander.close()
    stage.close()
