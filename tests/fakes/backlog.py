"""A Backlog that never yields, for capabilities that read chat from the bus, not the backlog."""

from __future__ import annotations

import asyncio

from assistant.events import ChatTriaged
from assistant.store import ChatStatus


class IdleBacklog:
    async def next(self, room_id: str) -> ChatTriaged:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def requeue(self, item: ChatTriaged) -> None:
        raise AssertionError("an idle backlog hands nothing out")

    async def resolve(
        self,
        room_id: str,
        chat_id: str,
        status: ChatStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
    ) -> bool:
        return True
