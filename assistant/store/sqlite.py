"""SQLite backend (WAL): one machine; every statement runs on one thread off the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from assistant.store.sql import SqlStore, Step, pending, tables

T = TypeVar("T")
DIALECT = {"real": "REAL", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"}


class SqliteStore(SqlStore):
    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _wal(self) -> None:
        # Switching a new file to WAL wants it alone, and SQLite answers "locked" at once, with
        # no busy wait, while another process opening it too holds a lock: retry for a while.
        deadline = time.monotonic() + 10
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _migrate(self) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")  # one instance migrates; the others wait
            for ddl in tables(DIALECT):
                self._db.execute(ddl)
            done = self._db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            for version, ddl in pending(done, DIALECT):
                self._db.execute(ddl)
                self._db.execute("INSERT INTO schema_version VALUES (?)", (version,))

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self._db:  # a RETURNING statement writes: commit it
                return self._db.execute(sql, params).fetchall()

        return await self._run(run)

    async def _transaction(self, steps: list[Step], *, stop_on_zero: bool = False) -> list[int]:
        def run() -> list[int]:
            counts: list[int] = []
            with self._db:
                self._db.execute("BEGIN")
                for sql, params in steps:
                    counts.append(self._db.execute(sql, params).rowcount)
                    if stop_on_zero and not counts[-1]:
                        break
            return counts

        return await self._run(run)

    async def _insert_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        def run() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(sql, rows)

        await self._run(run)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, wait=True)
        self._db.close()

    def explain(self, sql: str) -> list[str]:
        """The query plan of one statement (tests check that every query uses an index)."""
        params = ("x",) * sql.count("?")
        self._db.execute("SELECT count(*) FROM sqlite_master")  # another connection's DDL
        return [row[3] for row in self._db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
