"""A fresh store per test on each backend: SQLite in a temp dir, PostgreSQL in its own schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assistant.store import SqliteStore, Store

DSN = os.environ.get("LCA_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def drop_schema(schema: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        made: Store = SqliteStore(tmp_path / "lca.sqlite3")
        yield made
        await made.close()
        return
    from assistant.store.postgres import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:12]}"
    made = await PostgresStore.open(DSN, schema=schema)
    try:
        yield made
    finally:
        await made.close()
        await drop_schema(schema)
