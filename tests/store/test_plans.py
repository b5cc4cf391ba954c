"""Every query the store runs is served by an index (the whole-table reads by design aside):
checked on each backend's own planner, not timed."""

from __future__ import annotations

import uuid

import pytest

from assistant.store import SqliteStore
from assistant.store.sql import FULL_SCANS, QUERIES
from tests.store.conftest import DSN, drop_schema

INDEXED = sorted(set(QUERIES) - FULL_SCANS)


def test_every_query_is_named_once() -> None:
    assert len(set(QUERIES.values())) == len(QUERIES)


@pytest.mark.parametrize("name", INDEXED)
async def test_sqlite_plans_search_never_scan(name: str, tmp_path: object) -> None:
    store = SqliteStore(tmp_path / "plans.sqlite3")  # type: ignore[operator]
    try:
        plan = store.explain(QUERIES[name])
    finally:
        await store.close()
    scans = [step for step in plan if step.startswith("SCAN ")]
    assert not scans, (name, plan)


@pytest.mark.postgres
async def test_postgres_plans_use_indexes() -> None:
    from assistant.store.postgres import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = await PostgresStore.open(DSN, schema=schema)
    try:
        for name in INDEXED:
            plan = await store.explain(QUERIES[name])
            assert "Seq Scan" not in plan, (name, plan)
    finally:
        await store.close()
        await drop_schema(schema)
