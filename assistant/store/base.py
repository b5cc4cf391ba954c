"""The store contract every backend keeps, and the records it reads and writes."""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from assistant.catalog import Catalog
from assistant.events import Chat, Role
from assistant.understand.types import Intent

ChatStatus = Literal["queued", "answered", "skipped"]
OutputKind = Literal["script", "answer", "compliance", "recommendation"]
# What triage read a line as; lines skipped as spam before they are read say "spam".
LineIntent = Intent | Literal["spam"]


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
    intent: LineIntent | None
    answer: str | None


class Store(Protocol):
    """Rooms, hashed tokens, catalogs, the chat log, outputs and room state (``sqlite``: one
    machine; ``postgres``: instances on several machines)."""

    async def ping(self) -> None:
        """Raise when the database cannot be read (readiness)."""

    async def close(self) -> None: ...

    async def create_room(self, room: RoomRecord, tokens: dict[Role, str]) -> None: ...

    async def rooms(self) -> list[RoomRecord]: ...

    async def room(self, room_id: str) -> RoomRecord:
        """Raises ``NotFound`` for an unknown room."""

    async def role_for(self, room_id: str, token: str) -> Role | None: ...

    async def is_host_token(self, token: str) -> bool:
        """Whether ``token`` is the host token of some room (the vision API takes any)."""

    async def put_catalog(self, room_id: str, catalog: Catalog) -> None: ...

    async def catalog(self, room_id: str) -> Catalog: ...

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
        """Persist one chat line; returns once it is committed. A queued line carries the
        ``lease`` of the instance that will answer it; a line answered already, its answer."""

    async def set_chat_status(
        self,
        chat_id: str,
        status: ChatStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
        owner: str | None = None,
    ) -> bool:
        """Set a line's status and that of every duplicate linked to it; with ``owner``, only
        while that instance still holds the line (False: another took it over)."""

    async def renew(self, lease: Lease) -> None:
        """Extend the lease of every line its owner still has queued."""

    async def release(self, owner: str) -> None:
        """Let another instance take the lines ``owner`` had queued at once (a clean stop)."""

    async def claim(self, room_id: str, lease: Lease, now: float) -> list[ChatRecord]:
        """Take a room's queued first questions whose lease lapsed, oldest first."""

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

    async def add_output(
        self, room_id: str, kind: OutputKind, body: dict[str, Any], ref: str | None = None
    ) -> None: ...

    async def outputs(
        self, room_id: str, kind: OutputKind, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` outputs of a kind, oldest first."""

    async def put_state(self, room_id: str, key: str, body: dict[str, Any]) -> None: ...

    async def state(self, room_id: str, key: str) -> dict[str, Any] | None: ...
