"""One store contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from assistant.catalog import Catalog, Product
from assistant.errors import NotFound
from assistant.events import Chat, User
from assistant.store import Lease, RoomRecord, Store
from assistant.store.sql import MIGRATIONS
from tests.store.backends import Database


def room(room_id: str = "r1", mode: str = "host") -> RoomRecord:
    return RoomRecord.model_validate(
        {"room_id": room_id, "title": "t", "mode": mode, "language": "zh", "created": time.time()}
    )


def chat(text: str, ts: float, room_id: str = "r1") -> Chat:
    return Chat(room_id=room_id, user=User(id="u", name="小王"), text=text, ts=ts)


async def test_rooms_and_tokens(store: Store) -> None:
    await store.create_room(room(), {"host": "h-tok", "viewer": "v-tok", "anchor": "a-tok"})
    assert [r.room_id for r in await store.rooms()] == ["r1"]
    assert (await store.room("r1")).title == "t"
    with pytest.raises(NotFound):
        await store.room("nope")
    assert await store.role_for("r1", "h-tok") == "host"
    assert await store.role_for("r1", "v-tok") == "viewer"
    assert await store.role_for("r1", "wrong") is None
    assert await store.role_for("r2", "h-tok") is None
    assert await store.is_host_token("h-tok") and not await store.is_host_token("v-tok")


async def test_catalog_replaced_whole(store: Store) -> None:
    await store.create_room(room(), {"host": "h"})
    assert (await store.catalog("r1")).products == []
    one = Catalog(products=[Product(sku="A", title="保温杯", price=59.9, stock=3, category="家居")])
    two = Catalog(products=[Product(sku="B", title="炸锅", price=299, stock=1, category="厨电")])
    await store.put_catalog("r1", one)
    await store.put_catalog("r1", two)
    assert [p.sku for p in (await store.catalog("r1")).products] == ["B"]


async def test_chat_log_pages_and_filters(store: Store) -> None:
    lines = [chat(f"第{i}句", ts=1000.0 + i) for i in range(6)]
    for n, line in enumerate(lines):
        await store.add_chat(line, "queued" if n % 2 else "skipped", reason=None, priority=0.5)
    got = await store.chats("r1")
    assert [r.chat.id for r in got] == [c.id for c in lines]
    assert got[0].chat.user.name == "小王" and got[1].priority == 0.5
    assert [r.chat.id for r in await store.chats("r1", limit=2)] == [c.id for c in lines[:2]]
    newest = await store.chats("r1", limit=2, newest=True)
    assert [r.chat.id for r in newest] == [c.id for c in lines[-2:]]
    queued = await store.chats("r1", status="queued")
    assert [r.chat.id for r in queued] == [c.id for c in lines[1::2]]
    assert [r.chat.id for r in await store.chats("r1", since=1004.0)] == [lines[4].id, lines[5].id]
    assert await store.chats("other-room") == []


async def test_concurrent_lines_all_commit(store: Store) -> None:
    lines = [chat(f"并发{i}", ts=2000.0 + i) for i in range(50)]
    await asyncio.gather(*(store.add_chat(line, "queued") for line in lines))
    assert {r.chat.id for r in await store.chats("r1", limit=100)} == {c.id for c in lines}


async def test_status_follows_to_duplicates_and_is_fenced_by_owner(store: Store) -> None:
    first, dup = chat("多少钱", 1.0), chat("多少钱呀", 2.0)
    me, other = Lease(owner="me", until=100.0), Lease(owner="other", until=100.0)
    await store.add_chat(first, "queued", lease=me)
    await store.add_chat(dup, "queued", dup_of=first.id)
    assert not await store.set_chat_status(first.id, "answered", answer="x", owner=other.owner)
    assert await store.set_chat_status(first.id, "answered", reason="facts", answer="59.9元",
                                       owner=me.owner)  # fmt: skip
    records = {r.chat.id: r for r in await store.chats("r1")}
    assert records[dup.id].status == "answered" and records[dup.id].answer == "59.9元"
    assert records[first.id].reason == "facts" and records[dup.id].dup_of == first.id


async def test_leases_claim_renew_release(store: Store) -> None:
    a, dup = chat("尺码", 1.0), chat("尺码呢", 2.0)
    await store.add_chat(a, "queued", lease=Lease(owner="dead", until=50.0))
    await store.add_chat(dup, "queued", dup_of=a.id)
    survivor = Lease(owner="alive", until=200.0)
    assert await store.claim("r1", survivor, now=40.0) == []  # still held
    (taken,) = await store.claim("r1", survivor, now=60.0)  # lapsed; the duplicate follows it
    assert taken.chat.id == a.id
    assert await store.claim("r1", Lease(owner="third", until=300.0), now=150.0) == []
    await store.renew(Lease(owner="alive", until=500.0))
    assert await store.claim("r1", Lease(owner="third", until=600.0), now=400.0) == []
    await store.release("alive")  # a clean stop: anyone may take it now
    (again,) = await store.claim("r1", Lease(owner="third", until=20.0), now=10.0)
    assert again.chat.id == a.id


async def test_outputs_and_state(store: Store) -> None:
    for n in range(4):
        await store.add_output("r1", "answer", {"n": n, "text": "答"}, ref=f"c{n}")
    await store.add_output("r1", "script", {"n": 9})
    assert [o["n"] for o in await store.outputs("r1", "answer", limit=2)] == [2, 3]
    assert await store.state("r1", "anchor") is None
    await store.put_state("r1", "anchor", {"seq": 1})
    await store.put_state("r1", "anchor", {"seq": 2, "名": "主播"})
    assert await store.state("r1", "anchor") == {"seq": 2, "名": "主播"}
    await store.ping()


async def test_reopened_store_keeps_everything(database: Database) -> None:
    line, first = chat("多少钱", 1.0), await database.open()
    await first.create_room(room(), {"host": "h-tok", "viewer": "v-tok"})
    thermos = Product(sku="A", title="保温杯", price=59.9, stock=3, category="家居")
    await first.put_catalog("r1", Catalog(products=[thermos]))
    await first.add_chat(line, "queued", priority=0.9, intent="price")
    await first.set_chat_status(line.id, "answered", reason="facts", answer="59.9元")
    await first.add_output("r1", "answer", {"text": "59.9元"}, ref=line.id)
    await first.put_state("r1", "stage", {"sku": "A"})
    await first.close()
    again = await database.open()  # a restart: the migrations are not applied twice
    try:
        assert (await again.room("r1")).title == "t"
        assert await again.role_for("r1", "h-tok") == "host"
        assert [p.sku for p in (await again.catalog("r1")).products] == ["A"]
        (record,) = await again.chats("r1")
        assert (record.status, record.answer, record.intent) == ("answered", "59.9元", "price")
        assert await again.outputs("r1", "answer") == [{"text": "59.9元"}]
        assert await again.state("r1", "stage") == {"sku": "A"}
    finally:
        await again.close()
    assert await versions(database) == list(range(1, len(MIGRATIONS) + 1))


async def test_two_instances_write_and_claim_together(database: Database) -> None:
    a, b = await database.open(), await database.open()
    try:
        await a.create_room(room(), {"host": "h"})
        lines = [chat(f"并发{i}", ts=3000.0 + i) for i in range(60)]
        held = Lease(owner="dead", until=10.0)
        pairs = list(zip(itertools.cycle((a, b)), lines, strict=False))
        await asyncio.gather(*(s.add_chat(line, "queued", lease=held) for s, line in pairs))
        for s in (a, b):  # each reads every line, whichever instance wrote it
            assert {r.chat.id for r in await s.chats("r1", limit=100)} == {c.id for c in lines}
        # both take over the dead instance's lines at once: each line goes to one of them
        got_a, got_b = await asyncio.gather(
            a.claim("r1", Lease(owner="a", until=99.0), now=20.0),
            b.claim("r1", Lease(owner="b", until=99.0), now=20.0),
        )
        ids_a, ids_b = {r.chat.id for r in got_a}, {r.chat.id for r in got_b}
        assert not ids_a & ids_b and ids_a | ids_b == {c.id for c in lines}
        ended = await asyncio.gather(
            *(a.set_chat_status(i, "answered", answer="a", owner="a") for i in ids_a),
            *(b.set_chat_status(i, "answered", answer="b", owner="b") for i in ids_b),
            *(b.set_chat_status(i, "answered", answer="late", owner="b") for i in ids_a),
        )
        assert ended == [True] * len(lines) + [False] * len(ids_a)
        answers = {r.chat.id: r.answer for r in await b.chats("r1", limit=100)}
        assert answers == {**dict.fromkeys(ids_a, "a"), **dict.fromkeys(ids_b, "b")}
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_instances_starting_together_migrate_once(database: Database) -> None:
    stores = await asyncio.gather(*(database.open() for _ in range(4)))
    await asyncio.gather(*(s.close() for s in stores))
    assert await versions(database) == list(range(1, len(MIGRATIONS) + 1))


async def test_an_older_schema_is_migrated_at_open(database: Database) -> None:
    await (await database.open()).close()
    # the database as a version-2 store left it: the duplicate and owner indexes came after
    await database.sql("DELETE FROM schema_version WHERE version > 2")
    await database.sql("DROP INDEX chat_dup_of")
    await database.sql("DROP INDEX chat_owner")
    await (await database.open()).close()  # 1 and 2 (ADD COLUMN) would fail if run again
    assert await versions(database) == list(range(1, len(MIGRATIONS) + 1))
    indexes = (
        "SELECT name FROM sqlite_master WHERE type='index'"
        if database.name == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE schemaname=current_schema()"
    )
    assert {"chat_dup_of", "chat_owner"} <= {name for (name,) in await database.sql(indexes)}


async def versions(database: Database) -> list[int]:
    rows = await database.sql("SELECT version FROM schema_version ORDER BY version")
    return [version for (version,) in rows]
