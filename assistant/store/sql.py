"""The store's SQL, once for every backend: schema, migrations, named queries and the logic."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from assistant.catalog import Catalog
from assistant.errors import NotFound
from assistant.events import Chat, Role, User
from assistant.store.base import (
    ChatRecord,
    ChatStatus,
    Lease,
    LineIntent,
    OutputKind,
    RoomRecord,
    hash_token,
)

# {real} and {serial} are the one difference between the dialects' DDL.
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS rooms (id TEXT PRIMARY KEY, title TEXT NOT NULL,"
    " mode TEXT NOT NULL, language TEXT NOT NULL, created {real} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY,"
    " room_id TEXT NOT NULL REFERENCES rooms(id), role TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS catalogs (room_id TEXT PRIMARY KEY REFERENCES rooms(id),"
    " body TEXT NOT NULL, updated {real} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chat (id TEXT PRIMARY KEY, room_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL, user_name TEXT NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL,"
    " ts {real} NOT NULL, status TEXT NOT NULL, reason TEXT, dup_of TEXT,"
    " priority {real} NOT NULL DEFAULT 0, intent TEXT, answer TEXT)",
    "CREATE INDEX IF NOT EXISTS chat_room_status ON chat(room_id, status, ts)",
    "CREATE INDEX IF NOT EXISTS chat_room_ts ON chat(room_id, ts)",
    "CREATE TABLE IF NOT EXISTS outputs (id {serial}, room_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, ref TEXT, body TEXT NOT NULL, ts {real} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS outputs_room_kind ON outputs(room_id, kind, id)",
    "CREATE TABLE IF NOT EXISTS state (room_id TEXT NOT NULL, key TEXT NOT NULL,"
    " body TEXT NOT NULL, PRIMARY KEY (room_id, key))",
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
]
# Applied once each, in order, recorded in schema_version: never edit one, append.
MIGRATIONS = [
    "ALTER TABLE chat ADD COLUMN owner TEXT",
    "ALTER TABLE chat ADD COLUMN lease_until {real} NOT NULL DEFAULT 0",
    "CREATE INDEX IF NOT EXISTS chat_dup_of ON chat(dup_of) WHERE dup_of IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS chat_owner ON chat(owner, status) WHERE owner IS NOT NULL",
]

_CHAT = (
    "id, room_id, user_id, user_name, role, text, ts, status, reason, dup_of, priority, intent,"
    " answer"
)
_ROOM = "id, title, mode, language, created"
_SET = "UPDATE chat SET status=?, reason=?, answer=COALESCE(?, answer)"
# Every statement the store runs, by name: the tests check each one's query plan.
QUERIES = {
    "insert_room": "INSERT INTO rooms VALUES (?,?,?,?,?)",
    "insert_token": "INSERT INTO tokens VALUES (?,?,?)",
    "rooms": f"SELECT {_ROOM} FROM rooms",
    "room": f"SELECT {_ROOM} FROM rooms WHERE id=?",
    "role_for": "SELECT role FROM tokens WHERE hash=? AND room_id=?",
    "is_host_token": "SELECT 1 FROM tokens WHERE hash=? AND role='host'",
    "put_catalog": "INSERT INTO catalogs VALUES (?,?,?) ON CONFLICT(room_id) DO UPDATE"
    " SET body=excluded.body, updated=excluded.updated",
    "catalog": "SELECT body FROM catalogs WHERE room_id=?",
    "insert_chat": "INSERT INTO chat (id, room_id, user_id, user_name, role, text, ts, status,"
    " reason, dup_of, priority, intent, owner, lease_until, answer)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "set_status": f"{_SET} WHERE id=?",
    "set_status_owned": f"{_SET} WHERE id=? AND (owner IS NULL OR owner=?)",
    "set_status_dups": f"{_SET} WHERE dup_of=?",
    "renew": "UPDATE chat SET lease_until=? WHERE owner=? AND status='queued'",
    "release": "UPDATE chat SET lease_until=0 WHERE owner=? AND status='queued'",
    "claim": "UPDATE chat SET owner=?, lease_until=? WHERE room_id=? AND status='queued'"
    f" AND dup_of IS NULL AND lease_until<? RETURNING {_CHAT}",
    "chats": f"SELECT {_CHAT} FROM chat WHERE room_id=? AND ts>=? ORDER BY ts ASC LIMIT ?",
    "chats_newest": f"SELECT {_CHAT} FROM chat WHERE room_id=? AND ts>=? ORDER BY ts DESC LIMIT ?",
    "chats_status": f"SELECT {_CHAT} FROM chat WHERE room_id=? AND ts>=? AND status=?"
    " ORDER BY ts ASC LIMIT ?",
    "chats_status_newest": f"SELECT {_CHAT} FROM chat WHERE room_id=? AND ts>=? AND status=?"
    " ORDER BY ts DESC LIMIT ?",
    "add_output": "INSERT INTO outputs (room_id, kind, ref, body, ts) VALUES (?,?,?,?,?)",
    "outputs": "SELECT body FROM outputs WHERE room_id=? AND kind=? ORDER BY id DESC LIMIT ?",
    "put_state": "INSERT INTO state VALUES (?,?,?) ON CONFLICT(room_id, key) DO UPDATE"
    " SET body=excluded.body",
    "state": "SELECT body FROM state WHERE room_id=? AND key=?",
    "ping": "SELECT 1",
}
# Reads that are whole-table by design (every room, at start-up).
FULL_SCANS = {"rooms", "ping"}

Step = tuple[str, tuple[Any, ...]]


def tables(dialect: dict[str, str]) -> list[str]:
    """The tables and indexes every version starts from, in a dialect's types."""
    return [ddl.format(**dialect) for ddl in SCHEMA]


def pending(done: int | None, dialect: dict[str, str]) -> list[tuple[int, str]]:
    """The migrations a database at version ``done`` has yet to run, numbered, in order."""
    start = done or 0
    return [(version, ddl.format(**dialect))
            for version, ddl in enumerate(MIGRATIONS[start:], start=start + 1)]  # fmt: skip


class SqlStore:
    """The store's logic over a driver that runs ``?``-placeholder SQL (see the backends)."""

    async def _fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def _transaction(self, steps: list[Step], *, stop_on_zero: bool = False) -> list[int]:
        """Run statements in one transaction; their row counts. ``stop_on_zero``: the steps
        after one that changed no row are skipped."""
        raise NotImplementedError

    async def _insert_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def __init__(self) -> None:
        self._chat_rows: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._chat_writer: asyncio.Task[None] | None = None

    async def _execute(self, sql: str, *params: Any) -> None:
        await self._transaction([(sql, params)])

    async def ping(self) -> None:
        await self._fetch(QUERIES["ping"])

    # -- rooms, tokens, catalogs ---------------------------------------------------------------

    async def create_room(self, room: RoomRecord, tokens: dict[Role, str]) -> None:
        row = (room.room_id, room.title, room.mode, room.language, room.created)
        steps: list[Step] = [(QUERIES["insert_room"], row)]
        steps += [(QUERIES["insert_token"], (hash_token(t), room.room_id, role))
                  for role, t in tokens.items()]  # fmt: skip
        await self._transaction(steps)

    async def rooms(self) -> list[RoomRecord]:
        return [_room(r) for r in await self._fetch(QUERIES["rooms"])]

    async def room(self, room_id: str) -> RoomRecord:
        rows = await self._fetch(QUERIES["room"], room_id)
        if not rows:
            raise NotFound(f"unknown room {room_id!r}")
        return _room(rows[0])

    async def role_for(self, room_id: str, token: str) -> Role | None:
        rows = await self._fetch(QUERIES["role_for"], hash_token(token), room_id)
        return rows[0][0] if rows else None

    async def is_host_token(self, token: str) -> bool:
        return bool(await self._fetch(QUERIES["is_host_token"], hash_token(token)))

    async def put_catalog(self, room_id: str, catalog: Catalog) -> None:
        await self._execute(QUERIES["put_catalog"], room_id, catalog.model_dump_json(), time.time())

    async def catalog(self, room_id: str) -> Catalog:
        rows = await self._fetch(QUERIES["catalog"], room_id)
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
        intent: LineIntent | None = None,
        lease: Lease | None = None,
        answer: str | None = None,
    ) -> None:
        row = (chat.id, chat.room_id, chat.user.id, chat.user.name, chat.role, chat.text,
               chat.ts, status, reason, dup_of, float(priority), intent,
               lease.owner if lease else None, lease.until if lease else 0.0, answer)  # fmt: skip
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._chat_rows.append((row, done))
        if self._chat_writer is None or self._chat_writer.done():
            self._chat_writer = asyncio.create_task(self._write_chat(), name="store-chat")
        await done

    async def _write_chat(self) -> None:
        # Group commit: a flood of chat costs one transaction per batch, not one per line.
        while self._chat_rows:
            batch, self._chat_rows = self._chat_rows, []
            try:
                await self._insert_many(QUERIES["insert_chat"], [row for row, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(None)

    async def set_chat_status(
        self,
        chat_id: str,
        status: ChatStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
        owner: str | None = None,
    ) -> bool:
        values = (status, reason, answer)
        first: Step = (
            (QUERIES["set_status"], (*values, chat_id))
            if owner is None
            else (QUERIES["set_status_owned"], (*values, chat_id, owner))
        )
        steps = [first, (QUERIES["set_status_dups"], (*values, chat_id))]
        counts = await self._transaction(steps, stop_on_zero=True)
        return bool(counts[0])

    async def renew(self, lease: Lease) -> None:
        await self._execute(QUERIES["renew"], lease.until, lease.owner)

    async def release(self, owner: str) -> None:
        await self._execute(QUERIES["release"], owner)

    async def claim(self, room_id: str, lease: Lease, now: float) -> list[ChatRecord]:
        rows = await self._fetch(QUERIES["claim"], lease.owner, lease.until, room_id, now)
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
        name = "chats" + ("_status" if status else "") + ("_newest" if newest else "")
        params = (room_id, float(since), *((status,) if status else ()), limit)
        rows = await self._fetch(QUERIES[name], *params)
        if newest:
            rows.reverse()
        return [_chat(r) for r in rows]

    # -- generated outputs and per-room state --------------------------------------------------

    async def add_output(
        self, room_id: str, kind: OutputKind, body: dict[str, Any], ref: str | None = None
    ) -> None:
        text = json.dumps(body, ensure_ascii=False)
        await self._execute(QUERIES["add_output"], room_id, kind, ref, text, time.time())

    async def outputs(
        self, room_id: str, kind: OutputKind, limit: int = 100
    ) -> list[dict[str, Any]]:
        rows = await self._fetch(QUERIES["outputs"], room_id, kind, limit)
        return [json.loads(r[0]) for r in reversed(rows)]

    async def put_state(self, room_id: str, key: str, body: dict[str, Any]) -> None:
        await self._execute(
            QUERIES["put_state"], room_id, key, json.dumps(body, ensure_ascii=False)
        )

    async def state(self, room_id: str, key: str) -> dict[str, Any] | None:
        rows = await self._fetch(QUERIES["state"], room_id, key)
        return json.loads(rows[0][0]) if rows else None


def _room(row: tuple[Any, ...]) -> RoomRecord:
    return RoomRecord(room_id=row[0], title=row[1], mode=row[2], language=row[3], created=row[4])


def _chat(r: tuple[Any, ...]) -> ChatRecord:
    chat = Chat(id=r[0], room_id=r[1], user=User(id=r[2], name=r[3]), role=r[4], text=r[5],
                ts=r[6])  # fmt: skip
    return ChatRecord(chat=chat, status=r[7], reason=r[8], dup_of=r[9], priority=r[10],
                      intent=r[11], answer=r[12])  # fmt: skip
