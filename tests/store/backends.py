"""A database of each store backend's own per test: a SQLite file or a fresh PostgreSQL schema."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from assistant.settings import StoreSettings
from assistant.store import Store, open_store

DSN = os.environ.get("LCA_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
# Where no PostgreSQL runs (a laptop), LCA_TEST_POSTGRES_OPTIONAL=1 makes its tests skip; without
# it they fail, as in CI, which has one. The fast lane deselects them (`-m "not postgres"`).
OPTIONAL = os.environ.get("LCA_TEST_POSTGRES_OPTIONAL") == "1"

# A made-up chat log of many rooms: 50 rooms, 5,000 viewers, about 1 % of the lines still queued,
# every tenth a duplicate of its room's line before, two instances owning two thirds of the lines.
_FILL = (
    "INSERT INTO chat (id, room_id, user_id, user_name, role, text, ts, status, reason, dup_of,"
    " priority, intent, owner, lease_until) SELECT 'c' || i, 'r' || (i % 50), 'u' || (i % 5000),"
    " '小王', 'viewer', '这个多少钱' || i, 1000.0 + i,"
    " CASE WHEN i % 97 = 0 THEN 'queued' WHEN i % 3 = 0 THEN 'skipped' ELSE 'answered' END,"
    " NULL, CASE WHEN i % 10 = 5 AND i > 50 THEN 'c' || (i - 50) END, 0.5, 'price',"
    " CASE WHEN i % 3 = 0 THEN NULL WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 0 FROM {series}"
)


async def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL cannot be used, or None when it can."""
    if importlib.util.find_spec("asyncpg") is None:
        return "asyncpg is not installed (the `postgres` extra)"
    import asyncpg  # type: ignore[import-untyped]

    try:
        conn = await asyncpg.connect(DSN, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {DSN} is unreachable: {exc!r}"
    await conn.close()
    return None


class Database:
    """Where a test's stores live; ``open`` may be called again (a restart, a second instance)."""

    name: str

    async def open(self) -> Store:
        raise NotImplementedError

    async def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        """Run one statement on a connection of its own (``?`` placeholders) and commit it."""
        raise NotImplementedError

    async def fill(self, rows: int) -> None:
        """``rows`` chat lines (see ``_FILL``), then fresh planner statistics."""
        raise NotImplementedError

    async def drop(self) -> None:
        """Remove what the test made."""


class SqliteDatabase(Database):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def open(self) -> Store:
        return await open_store(StoreSettings(backend="sqlite", path=self.path))

    async def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                with db:
                    return db.execute(statement, args).fetchall()
            finally:
                db.close()

        return await asyncio.to_thread(run)

    async def fill(self, rows: int) -> None:
        series = f"(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows - 1}) SELECT i FROM n)"  # noqa: E501
        await self.sql(_FILL.format(series=series))
        await self.sql("ANALYZE")


class PostgresDatabase(Database):
    name = "postgres"

    def __init__(self) -> None:
        self.schema = f"t_{uuid.uuid4().hex[:12]}"

    async def open(self) -> Store:
        settings = StoreSettings(backend="postgres", dsn=DSN, schema_name=self.schema, pool_size=4)
        return await open_store(settings)

    async def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        import asyncpg

        from assistant.store.postgres import dollars

        conn = await asyncpg.connect(DSN, server_settings={"search_path": self.schema})
        try:
            return [tuple(row) for row in await conn.fetch(dollars(statement), *args)]
        finally:
            await conn.close()

    async def fill(self, rows: int) -> None:
        await self.sql(_FILL.format(series=f"generate_series(0, {rows - 1}) AS n(i)"))
        await self.sql("ANALYZE chat")

    async def drop(self) -> None:
        await self.sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
