"""A small WebSocket test client that collects typed events from a room."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from assistant.events import Event, Session, parse_event


class RoomClient:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def session(self) -> Session:
        """A viewer's first message: the id and session the server gave it."""
        event = await self.next_event()
        assert isinstance(event, Session), event
        return event

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message, ensure_ascii=False))

    async def chat(self, text: str, user_id: str = "v1", name: str = "小王") -> None:
        await self.send({"type": "chat", "user": {"id": user_id, "name": name}, "text": text})

    async def next_event(self, timeout: float = 5.0) -> Event:
        raw = await asyncio.wait_for(self.conn.recv(), timeout)
        return parse_event(raw)

    async def expect(self, event_type: str, timeout: float = 5.0) -> Event:
        """Skip other events until one of ``event_type`` arrives."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event(timeout)
                if event.type == event_type:
                    return event

    async def silent(self, event_type: str, within: float = 0.3) -> bool:
        """True when no event of ``event_type`` arrives within the window."""
        try:
            await self.expect(event_type, within)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def room_client(url: str) -> AsyncIterator[RoomClient]:
    # Unbounded receive queue: a test that leaves events unread must not stall the close
    # handshake (websockets stops reading past max_queue, so the server's close frame waits
    # behind them for the 10 s close timeout).
    async with connect(url, max_size=None, max_queue=None) as conn:
        yield RoomClient(conn)
