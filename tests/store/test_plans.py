"""Every query the store runs is served by an index (the whole-table reads by design aside), on
each backend's own planner: on an empty database and at 200,000 chat lines with fresh statistics.
Plans are asserted, never timings (bench/store.py times the queries)."""

from __future__ import annotations

from typing import Any

from assistant.store import SqliteStore, Store
from assistant.store.postgres import PostgresStore
from assistant.store.sql import FULL_SCANS, QUERIES
from tests.store.backends import Database

INDEXED = sorted(set(QUERIES) - FULL_SCANS)
# Their order must come from an index too: a sort of a room's whole chat log is a scan in disguise.
ORDERED = {name for name in INDEXED if "ORDER BY" in QUERIES[name]}
# Arguments as the service passes them, for the planner that looks at values (PostgreSQL): a
# room of the fill, a line with duplicates, an instance that owns a third of the log.
REAL: dict[str, tuple[Any, ...]] = {
    "set_status": ("answered", "facts", "59.9元", "c5"),
    "set_status_owned": ("answered", "facts", "59.9元", "c5", "a"),
    "set_status_dups": ("answered", "facts", "59.9元", "c5"),
    "renew": (99.0, "a"),
    "release": ("a",),
    "claim": ("a", 99.0, "r1", 50.0),
    "chats": ("r1", 0.0, 500),
    "chats_newest": ("r1", 0.0, 500),
    "chats_status": ("r1", 0.0, "answered", 500),
    "chats_status_newest": ("r1", 0.0, "answered", 500),
}


def test_every_query_is_named_once() -> None:
    assert len(set(QUERIES.values())) == len(QUERIES)


async def problems(store: Store, name: str, *, planner_free: bool) -> list[str]:
    """What is wrong with one query's plan: a table scan, or a sort the index should have saved.
    ``planner_free``: PostgreSQL may scan if it finds that cheaper (else it is discouraged)."""
    sql = QUERIES[name]
    if isinstance(store, SqliteStore):
        steps = store.explain(sql)
        sorts = name in ORDERED
        bad = [s for s in steps if s.startswith("SCAN ") or (sorts and "TEMP B-TREE" in s)]
        return [f"{name}: {bad} in {steps}"] if bad else []
    assert isinstance(store, PostgresStore)
    nodes = await store.explain(sql, *REAL.get(name, ()), seqscan=planner_free)
    kinds = [n["Node Type"] for n in nodes]
    bad = [k for k in kinds if k == "Seq Scan" or (name in ORDERED and k.endswith("Sort"))]
    if " WHERE " in sql and not any(k.startswith(("Index", "Bitmap Index")) for k in kinds):
        bad.append("no index")
    if "ON CONFLICT" in sql and not nodes[0].get("Conflict Arbiter Indexes"):
        bad.append("no arbiter index")
    return [f"{name}: {bad} in {kinds}"] if bad else []


async def test_every_query_uses_an_index_on_an_empty_database(store: Store) -> None:
    found = [p for name in INDEXED for p in await problems(store, name, planner_free=False)]
    assert not found, found


async def test_every_query_uses_an_index_at_200k_lines(database: Database) -> None:
    store = await database.open()
    try:
        await database.fill(200_000)
        found = [p for name in INDEXED for p in await problems(store, name, planner_free=True)]
        assert not found, found
        queued = sum(1 for i in range(1, 200_000, 50) if i % 97 == 0)  # the fill's, in room r1
        assert len(await store.chats("r1", status="queued", limit=10_000)) == queued
    finally:
        await store.close()
