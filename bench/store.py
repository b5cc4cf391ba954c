"""Store benchmark: set_chat_status and add_chat at 200,000 chat lines, indexed vs the old scan."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from assistant.events import Chat, User
from assistant.store import Store
from assistant.store.sql import QUERIES
from bench.common import median, pct, write_result
from tests.store.backends import (
    DSN,
    Database,
    PostgresDatabase,
    SqliteDatabase,
    postgres_unreachable,
)

# The in-run baseline: the status update as it was, one statement whose OR no index served.
OLD_SET = "UPDATE chat SET status=?, reason=?, answer=COALESCE(?, answer) WHERE id=? OR dup_of=?"
ADDED_INDEXES = ("chat_dup_of", "chat_owner")
Steps = list[tuple[str, tuple[Any, ...]]]


class Raw:
    """One connection of the benchmark's own: a statement's cost without the store around it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def __aenter__(self) -> Raw:
        if isinstance(self.database, SqliteDatabase):
            self._sqlite = sqlite3.connect(self.database.path, isolation_level=None, timeout=30)
            self._sqlite.execute("PRAGMA synchronous=NORMAL")  # as the store runs it
        else:
            import asyncpg  # type: ignore[import-untyped]

            assert isinstance(self.database, PostgresDatabase)
            settings = {"search_path": self.database.schema}
            self._pg = await asyncpg.connect(DSN, server_settings=settings)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    async def transaction(self, steps: Steps) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("BEGIN IMMEDIATE")
            for sql, params in steps:
                self._sqlite.execute(sql, params)
            self._sqlite.execute("COMMIT")
            return
        from assistant.store.postgres import dollars

        async with self._pg.transaction():
            for sql, params in steps:
                await self._pg.execute(dollars(sql), *params)


async def timed(n: int, op: Callable[[int], Awaitable[object]]) -> dict[str, float]:
    """``op(0..n-1)`` one after another: median and p95 milliseconds."""
    took = []
    for k in range(n):
        started = time.perf_counter()
        await op(k)
        took.append((time.perf_counter() - started) * 1000)
    return {"median_ms": median(took), "p95_ms": pct(took, 0.95), "n": n}


def line(tag: str, k: int) -> Chat:
    return Chat(room_id=f"r{k % 50}", user=User(id=f"u{k}", name="小王"), text=f"多少钱{k}",
                ts=1e6 + k, id=f"{tag}{k}")  # fmt: skip


def row(tag: str, k: int) -> tuple[Any, ...]:
    c = line(tag, k)
    return (c.id, c.room_id, c.user.id, c.user.name, c.role, c.text, c.ts, "queued", None, None,
            0.9, "price", "a", 0.0)  # fmt: skip


async def measure(database: Database, rows: int, n: int, n_old: int) -> dict[str, Any]:
    store: Store = await database.open()
    try:
        await database.fill(rows)
        # lines that have a duplicate (the fill links every c(i) with i % 10 == 5 to c(i - 50))
        target = [f"c{5 + 10 * (k * 37 % (rows // 10 - 10))}" for k in range(max(n, n_old))]
        values = ("answered", "facts", "59.9元")
        out: dict[str, Any] = {"rows": rows}

        def answer(k: int) -> Awaitable[bool]:
            return store.set_chat_status(target[k], "answered", reason="facts", answer="59.9元")

        def new(k: int) -> Steps:
            return [(QUERIES[q], (*values, target[k])) for q in ("set_status", "set_status_dups")]

        out["set_chat_status"] = await timed(n, answer)
        out["add_chat"] = await timed(n, lambda k: store.add_chat(line("s", k), "queued"))
        burst = [line("b", k) for k in range(2000)]
        started = time.perf_counter()
        await asyncio.gather(*(store.add_chat(c, "queued") for c in burst))
        out["add_chat_burst_lines_per_s"] = len(burst) / (time.perf_counter() - started)
        async with Raw(database) as raw:
            out["raw_set_status"] = await timed(n, lambda k: raw.transaction(new(k)))
            out["raw_insert"] = await timed(
                n, lambda k: raw.transaction([(QUERIES["insert_chat"], row("i", k))])
            )
            for index in ADDED_INDEXES:  # the schema as it was before this store's indexes
                await database.sql(f"DROP INDEX {index}")
            await database.sql("ANALYZE")
            old = [(OLD_SET, (*values, target[k], target[k])) for k in range(n_old)]
            out["old_set_status"] = await timed(n_old, lambda k: raw.transaction([old[k]]))
            out["old_insert"] = await timed(
                n, lambda k: raw.transaction([(QUERIES["insert_chat"], row("o", k))])
            )
        out["ratios"] = {
            "set_status old/raw": out["old_set_status"]["median_ms"]
            / out["raw_set_status"]["median_ms"],
            "set_status old/store": out["old_set_status"]["median_ms"]
            / out["set_chat_status"]["median_ms"],
            "insert indexed/old": out["raw_insert"]["median_ms"] / out["old_insert"]["median_ms"],
        }
        return out
    finally:
        await store.close()


def report(name: str, result: dict[str, Any]) -> None:
    print(f"{name} at {result['rows']:,} chat lines (median / p95 ms):")
    for key in ("set_chat_status", "raw_set_status", "old_set_status", "add_chat", "raw_insert",
                "old_insert"):  # fmt: skip
        print(f"  {key:16} {result[key]['median_ms']:9.3f} {result[key]['p95_ms']:9.3f}")
    print(f"  add_chat burst   {result['add_chat_burst_lines_per_s']:9.0f} lines/s")
    for ratio, value in result["ratios"].items():
        print(f"  ratio {ratio}: {value:.1f}")


async def main(args: argparse.Namespace) -> None:
    result: dict[str, Any] = {"rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteDatabase(Path(tmp) / "bench.sqlite3")
        result["sqlite"] = await measure(sqlite, args.rows, args.n, args.n_old)
    report("sqlite", result["sqlite"])
    why = await postgres_unreachable()
    if why is not None:
        print(f"postgres: not measured: {why}")
        result["postgres"] = {"error": why}
    else:
        postgres = PostgresDatabase()
        try:
            result["postgres"] = await measure(postgres, args.rows, args.n, args.n_old)
        finally:
            await postgres.drop()
        report("postgres", result["postgres"])
    write_result("store", result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--n", type=int, default=300, help="timed calls per indexed operation")
    parser.add_argument("--n-old", type=int, default=30, help="timed calls of the old statement")
    asyncio.run(main(parser.parse_args()))
