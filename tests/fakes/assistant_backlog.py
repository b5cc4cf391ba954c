"""A queue-backed Backlog for the brain's tests: records every resolve."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from assistant.events import ChatTriaged
from assistant.store import ChatStatus


@dataclass
class Resolved:
    room_id: str
    chat_id: str
    status: ChatStatus
    reason: str | None
    answer: str | None


class QueueBacklog:
    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[ChatTriaged]] = {}
        self.resolved: list[Resolved] = []
        self._changed = asyncio.Condition()

    def _q(self, room_id: str) -> asyncio.Queue[ChatTriaged]:
        return self.queues.setdefault(room_id, asyncio.Queue())

    def put(self, item: ChatTriaged) -> None:
        self._q(item.room_id).put_nowait(item)

    async def next(self, room_id: str) -> ChatTriaged:
        return await self._q(room_id).get()

    def requeue(self, item: ChatTriaged) -> None:
        self.put(item)

    async def resolve(
        self,
        room_id: str,
        chat_id: str,
        status: ChatStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
    ) -> bool:
        async with self._changed:
            self.resolved.append(Resolved(room_id, chat_id, status, reason, answer))
            self._changed.notify_all()
        return True

    async def wait_for(self, chat_id: str, limit: float = 30.0) -> Resolved:
        async def find() -> Resolved:
            async with self._changed:
                while True:
                    for r in self.resolved:
                        if r.chat_id == chat_id:
                            return r
                    await self._changed.wait()

        return await asyncio.wait_for(find(), limit)
