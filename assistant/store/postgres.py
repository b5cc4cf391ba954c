"""PostgreSQL backend (asyncpg): one database for instances on several machines."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from assistant.store.sql import SqlStore, Step, pending, tables

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

DIALECT = {"real": "DOUBLE PRECISION", "serial": "BIGSERIAL PRIMARY KEY"}
_MIGRATION_LOCK = 0x1CA5702E  # an advisory lock: instances starting together migrate in turn


def dollars(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …``."""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


def _count(status: str) -> int:
    """Rows touched, from a command tag such as ``UPDATE 3``."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresStore(SqlStore):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self._db = pool

    @classmethod
    async def open(cls, dsn: str, *, schema: str | None = None, size: int = 8) -> PostgresStore:
        import asyncpg  # only this backend needs the driver

        settings = {"search_path": schema} if schema else None
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=size, server_settings=settings, command_timeout=10
        )
        store = cls(pool)
        try:
            await store._migrate(schema)
        except BaseException:
            await pool.close()
            raise
        return store

    async def _migrate(self, schema: str | None) -> None:
        async with self._db.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            if schema:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            for ddl in tables(DIALECT):
                await conn.execute(ddl)
            done = await conn.fetchval("SELECT max(version) FROM schema_version")
            for version, ddl in pending(done, DIALECT):
                await conn.execute(ddl)
                await conn.execute("INSERT INTO schema_version VALUES ($1)", version)

    async def _fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        rows = await self._db.fetch(dollars(sql), *params)
        return [tuple(row) for row in rows]

    async def _transaction(self, steps: list[Step], *, stop_on_zero: bool = False) -> list[int]:
        counts: list[int] = []
        async with self._db.acquire() as conn, conn.transaction():
            for sql, params in steps:
                counts.append(_count(await conn.execute(dollars(sql), *params)))
                if stop_on_zero and not counts[-1]:
                    break
        return counts

    async def _insert_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        async with self._db.acquire() as conn, conn.transaction():
            await conn.executemany(dollars(sql), rows)

    async def close(self) -> None:
        await self._db.close()

    async def explain(self, sql: str, *args: Any, seqscan: bool = False) -> list[dict[str, Any]]:
        """Every node of one statement's plan (``EXPLAIN (FORMAT JSON)``, planned, not run), for
        ``args`` or made-up arguments of the right types; sequential scans discouraged unless
        ``seqscan`` (tests check that an index serves every query)."""
        samples = {"text": "x", "float8": 1.0, "int4": 1, "int8": 1}
        async with self._db.acquire() as conn, conn.transaction():
            if not seqscan:
                await conn.execute("SET LOCAL enable_seqscan = off")
            explain = await conn.prepare(f"EXPLAIN (FORMAT JSON) {dollars(sql)}")
            values = args or [samples[t.name] for t in explain.get_parameters()]
            plan = json.loads(await explain.fetchval(*values))[0]["Plan"]
        nodes, todo = [], [plan]
        while todo:
            node = todo.pop()
            nodes.append(node)
            todo += node.get("Plans", [])
        return nodes
