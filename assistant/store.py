"""SQLite store (WAL) for rooms, hashed tokens, catalogs, the chat log, outputs and room state."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from assistant.catalog import Catalog
from assistant.errors import NotFound
from assistant.events import Chat, Role, User

T = TypeVar("T")
ChatStatus = Literal["queued", "answered", "skipped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, mode TEXT NOT NULL, language TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, room_id TEXT NOT NULL REFERENCES rooms(id), role TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS catalogs (
    room_id TEXT PRIMARY KEY REFERENCES rooms(id), body TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chat (
    id TEXT PRIMARY KEY, room_id TEXT NOT NULL, user_id TEXT NOT NULL, user_name TEXT NOT NULL,
    role TEXT NOT NULL, text TEXT NOT NULL, ts REAL NOT NULL, status TEXT NOT NULL,
    reason TEXT, dup_of TEXT, priority REAL NOT NULL DEFAULT 0, intent TEXT, answer TEXT);
CREATE INDEX IF NOT EXISTS chat_room_status ON chat(room_id, status, ts);
CREATE INDEX IF NOT EXISTS chat_room_ts ON chat(room_id, ts);
CREATE TABLE IF NOT EXISTS outputs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, room_id TEXT NOT NULL, kind TEXT NOT NULL,
    ref TEXT, body TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS outputs_room_kind ON outputs(room_id, kind, id);
CREATE TABLE IF NOT EXISTS state (
    room_id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (room_id, key));
"""

# Added to databases made before: who answers a queued line, and until when (a lease).
_MIGRATIONS = [
    "ALTER TABLE chat ADD COLUMN owner TEXT",
    "ALTER TABLE chat ADD COLUMN lease_until REAL NOT NULL DEFAULT 0",
    "CREATE INDEX IF NOT EXISTS chat_dup_of ON chat(dup_of) WHERE dup_of IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS chat_owner ON chat(owner, status) WHERE owner IS NOT NULL",
]

_INSERT_CHAT = (
    "INSERT INTO chat (id, room_id, user_id, user_name, role, text, ts, status, reason,"
    " dup_of, priority, intent, owner, lease_until) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_CHAT_COLUMNS = (
    "id, room_id, user_id, user_name, role, text, ts, status, reason, dup_of, priority, intent,"
    " answer"
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RoomRecord(BaseModel):
    room_id: str
    title: str
    mode: Literal["host", "anchor"]
    language: Literal["zh", "en"]
    created: float


class Lease(BaseModel):
    """An instance's hold on the queued lines it will answer, renewed while it lives."""

    owner: str
    until: float


class ChatRecord(BaseModel):
    chat: Chat
    status: ChatStatus
    reason: str | None
    dup_of: str | None
    priority: float
    intent: str | None
    answer: str | None


class Store:
    """All writes go through one thread, so the event loop never waits on disk."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._chat_rows: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._chat_writer: asyncio.Task[None] | None = None

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
        done = row[0] or 0
        for version, sql in enumerate(_MIGRATIONS[done:], start=done + 1):
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute(sql)
                self._db.execute("INSERT INTO schema_version VALUES (?)", (version,))

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _exec(self, sql: str, *params: Any) -> None:
        await self._run(lambda: self._db.execute(sql, params))

    async def _all(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = await self._run(
            lambda: self._db.execute(sql, params).fetchall()
        )
        return rows

    async def ping(self) -> None:
        """Raise when the database cannot be read (readiness)."""
        await self._all("SELECT 1")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._db.close()

    # -- rooms and tokens ----------------------------------------------------------------------

    async def create_room(self, room: RoomRecord, tokens: dict[Role, str]) -> None:
        def tx() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT INTO rooms VALUES (?,?,?,?,?)",
                    (room.room_id, room.title, room.mode, room.language, room.created),
                )
                self._db.executemany(
                    "INSERT INTO tokens VALUES (?,?,?)",
                    [(hash_token(t), room.room_id, role) for role, t in tokens.items()],
                )

        await self._run(tx)

    async def rooms(self) -> list[RoomRecord]:
        rows = await self._all("SELECT id, title, mode, language, created FROM rooms")
        return [_room(r) for r in rows]

    async def room(self, room_id: str) -> RoomRecord:
        rows = await self._all(
            "SELECT id, title, mode, language, created FROM rooms WHERE id=?", room_id
        )
        if not rows:
            raise NotFound(f"unknown room {room_id!r}")
        return _room(rows[0])

    async def role_for(self, room_id: str, token: str) -> Role | None:
        rows = await self._all(
            "SELECT role FROM tokens WHERE hash=? AND room_id=?", hash_token(token), room_id
        )
        return rows[0][0] if rows else None

    async def is_host_token(self, token: str) -> bool:
        """Whether ``token`` is the host token of some room (the vision API takes any)."""
        rows = await self._all(
            "SELECT 1 FROM tokens WHERE hash=? AND role='host'", hash_token(token)
        )
        return bool(rows)

    # -- catalogs ------------------------------------------------------------------------------

    async def put_catalog(self, room_id: str, catalog: Catalog) -> None:
        await self._exec(
            "INSERT INTO catalogs VALUES (?,?,?) ON CONFLICT(room_id) DO UPDATE "
            "SET body=excluded.body, updated=excluded.updated",
            room_id,
            catalog.model_dump_json(),
            time.time(),
        )

    async def catalog(self, room_id: str) -> Catalog:
        rows = await self._all("SELECT body FROM catalogs WHERE room_id=?", room_id)
        return Catalog.model_validate_json(rows[0][0]) if rows else Catalog()

    # -- chat log ------------------------------------------------------------------------------

    async def add_chat(
        self,
        chat: Chat,
        status: ChatStatus,
        *,
        reason: str | None = None,
        dup_of: str | None = None,
        priority: float = 0.0,
        intent: str | None = None,
        lease: Lease | None = None,
    ) -> None:
        """Persist one chat line; returns once it is committed (lines commit in batches). A
        queued line carries the ``lease`` of the instance that will answer it."""
        row = (
            chat.id,
            chat.room_id,
            chat.user.id,
            chat.user.name,
            chat.role,
            chat.text,
            chat.ts,
            status,
            reason,
            dup_of,
            priority,
            intent,
            lease.owner if lease else None,
            lease.until if lease else 0.0,
        )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._chat_rows.append((row, done))
        if self._chat_writer is None or self._chat_writer.done():
            self._chat_writer = asyncio.create_task(self._write_chat(), name="sqlite-chat")
        await done

    async def _write_chat(self) -> None:
        # Group commit: a flood of chat costs one transaction per batch, not one per line.
        while self._chat_rows:
            batch, self._chat_rows = self._chat_rows, []

            try:
                await self._run(self._insert_chats, [row for row, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(None)

    def _insert_chats(self, rows: list[tuple[Any, ...]]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(_INSERT_CHAT, rows)

    async def set_chat_status(
        self,
        chat_id: str,
        status: ChatStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
        owner: str | None = None,
    ) -> bool:
        """Set a message's status, and that of every duplicate linked to it. With ``owner``,
        only while that instance still holds the line (False: another took it over)."""

        def tx() -> bool:
            with self._db:
                self._db.execute("BEGIN")
                done = self._db.execute(
                    "UPDATE chat SET status=?, reason=?, answer=COALESCE(?, answer)"
                    " WHERE id=? AND (? IS NULL OR owner IS NULL OR owner=?)",
                    (status, reason, answer, chat_id, owner, owner),
                ).rowcount
                if done:
                    self._db.execute(
                        "UPDATE chat SET status=?, reason=?, answer=COALESCE(?, answer)"
                        " WHERE dup_of=?",
                        (status, reason, answer, chat_id),
                    )
                return bool(done)

        applied: bool = await self._run(tx)
        return applied

    async def renew(self, lease: Lease) -> None:
        """Extend the lease of every line its owner still has queued."""
        await self._exec(
            "UPDATE chat SET lease_until=? WHERE owner=? AND status='queued'",
            lease.until,
            lease.owner,
        )

    async def release(self, owner: str) -> None:
        """Let another instance take the lines ``owner`` had queued at once (a clean stop)."""
        await self._exec("UPDATE chat SET lease_until=0 WHERE owner=? AND status='queued'", owner)

    async def claim(self, room_id: str, lease: Lease, now: float) -> list[ChatRecord]:
        """Take a room's queued first questions whose lease lapsed (their instance died or
        stopped), oldest first; they are ``lease.owner``'s from now on."""
        rows = await self._all(
            f"UPDATE chat SET owner=?, lease_until=? WHERE room_id=? AND status='queued'"
            f" AND dup_of IS NULL AND lease_until<? RETURNING {_CHAT_COLUMNS}",
            lease.owner,
            lease.until,
            room_id,
            now,
        )
        return sorted((_chat(r) for r in rows), key=lambda record: record.chat.ts)

    async def chats(
        self,
        room_id: str,
        *,
        status: ChatStatus | None = None,
        since: float = 0.0,
        limit: int = 500,
        newest: bool = False,
    ) -> list[ChatRecord]:
        """Lines from ``since``, oldest first: the first ``limit``, or with ``newest`` the last."""
        sql = f"SELECT {_CHAT_COLUMNS} FROM chat WHERE room_id=? AND ts>=?"
        params: list[Any] = [room_id, since]
        if status is not None:
            sql += " AND status=?"
            params.append(status)
        sql += f" ORDER BY ts {'DESC' if newest else 'ASC'} LIMIT ?"
        rows = await self._all(sql, *params, limit)
        if newest:
            rows.reverse()
        return [_chat(r) for r in rows]

    # -- generated outputs and per-room state --------------------------------------------------

    async def add_output(
        self, room_id: str, kind: str, body: dict[str, Any], ref: str | None = None
    ) -> None:
        await self._exec(
            "INSERT INTO outputs (room_id, kind, ref, body, ts) VALUES (?,?,?,?,?)",
            room_id,
            kind,
            ref,
            json.dumps(body, ensure_ascii=False),
            time.time(),
        )

    async def outputs(self, room_id: str, kind: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT body FROM outputs WHERE room_id=? AND kind=? ORDER BY id DESC LIMIT ?",
            room_id,
            kind,
            limit,
        )
        return [json.loads(r[0]) for r in reversed(rows)]

    async def put_state(self, room_id: str, key: str, body: dict[str, Any]) -> None:
        await self._exec(
            "INSERT INTO state VALUES (?,?,?) ON CONFLICT(room_id, key) DO UPDATE"
            " SET body=excluded.body",
            room_id,
            key,
            json.dumps(body, ensure_ascii=False),
        )

    async def state(self, room_id: str, key: str) -> dict[str, Any] | None:
        rows = await self._all("SELECT body FROM state WHERE room_id=? AND key=?", room_id, key)
        return json.loads(rows[0][0]) if rows else None


def _room(row: tuple[Any, ...]) -> RoomRecord:
    return RoomRecord(room_id=row[0], title=row[1], mode=row[2], language=row[3], created=row[4])


def _chat(r: tuple[Any, ...]) -> ChatRecord:
    chat = Chat(id=r[0], room_id=r[1], user=User(id=r[2], name=r[3]), role=r[4], text=r[5],
                ts=r[6])  # fmt: skip
    return ChatRecord(chat=chat, status=r[7], reason=r[8], dup_of=r[9], priority=r[10],
                      intent=r[11], answer=r[12])  # fmt: skip
