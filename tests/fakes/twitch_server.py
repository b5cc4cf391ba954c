"""A fake Twitch on loopback: an EventSub WebSocket server and a Helix API, scripted by tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from websockets.asyncio.server import ServerConnection, serve

TIMESTAMP = "2024-05-01T12:00:00.123456789Z"
_ids = itertools.count(1)


def envelope(message_type: str, payload: dict[str, Any], message_id: str | None = None) -> str:
    metadata = {
        "message_id": message_id or f"m-{next(_ids)}",
        "message_type": message_type,
        "message_timestamp": TIMESTAMP,
    }
    return json.dumps({"metadata": metadata, "payload": payload})


def notification(kind: str, event: dict[str, Any], message_id: str | None = None) -> str:
    subscription = {"id": "sub-1", "type": kind, "version": "1", "status": "enabled"}
    return envelope("notification", {"subscription": subscription, "event": event}, message_id)


def chat(text: str, *, message_id: str, user_id: str = "u1", name: str = "Viewer") -> str:
    event = {
        "broadcaster_user_id": "1001",
        "chatter_user_id": user_id,
        "chatter_user_login": name.lower(),
        "chatter_user_name": name,
        "message_id": message_id,
        "message": {"text": text, "fragments": [{"type": "text", "text": text}]},
        "message_type": "text",
    }
    return notification("channel.chat.message", event)


@dataclass
class Session:
    """One accepted EventSub socket; the test says what it sends and when."""

    ws: ServerConnection
    id: str

    async def send(self, frame: str) -> None:
        await self.ws.send(frame)

    async def welcome(self, keepalive_s: int = 10) -> None:
        session = {
            "id": self.id,
            "status": "connected",
            "keepalive_timeout_seconds": keepalive_s,
            "reconnect_url": None,
            "connected_at": TIMESTAMP,
        }
        await self.send(envelope("session_welcome", {"session": session}))

    async def reconnect(self, url: str) -> None:
        session = {"id": self.id, "status": "reconnecting", "keepalive_timeout_seconds": None}
        await self.send(
            envelope("session_reconnect", {"session": session | {"reconnect_url": url}})
        )


@dataclass
class FakeTwitch:
    """Records subscription and chat posts; answers them with the statuses a test sets."""

    eventsub_url: str = ""
    api_base: str = ""
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status_for: dict[str, int] = field(default_factory=lambda: {"channel.cheer": 403})
    drop_reason: dict[str, str] | None = None
    accepted: asyncio.Queue[Session] = field(default_factory=asyncio.Queue)

    async def next_session(self, timeout: float = 10.0) -> Session:
        async with asyncio.timeout(timeout):
            return await self.accepted.get()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/helix/eventsub/subscriptions")
        async def subscribe(request: Request) -> JSONResponse:
            body = await request.json()
            self.subscriptions.append(body)
            self.headers.append(dict(request.headers))
            status = self.status_for.get(body["type"], 202)
            if status != 202:
                return JSONResponse({"error": "refused", "status": status}, status_code=status)
            return JSONResponse({"data": [body | {"id": "sub", "status": "enabled"}]}, 202)

        @app.post("/helix/chat/messages")
        async def send_chat(request: Request) -> JSONResponse:
            self.posted.append(await request.json())
            self.headers.append(dict(request.headers))
            sent = {"message_id": f"sent-{len(self.posted)}", "is_sent": self.drop_reason is None}
            return JSONResponse({"data": [sent | {"drop_reason": self.drop_reason}]})

        return app

    async def on_connect(self, ws: ServerConnection) -> None:
        self.accepted.put_nowait(Session(ws, f"session-{next(_ids)}"))
        await ws.wait_closed()


@asynccontextmanager
async def fake_twitch() -> AsyncIterator[FakeTwitch]:
    """A running fake; its URLs are filled in."""
    fake = FakeTwitch()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn has started
    port = sock.getsockname()[1]
    config = uvicorn.Config(fake.app(), log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with serve(fake.on_connect, "127.0.0.1", 0) as eventsub:
        ws_port = eventsub.sockets[0].getsockname()[1]
        fake.eventsub_url = f"ws://127.0.0.1:{ws_port}/ws"
        fake.api_base = f"http://127.0.0.1:{port}/helix"
        try:
            yield fake
        finally:
            server.should_exit = True
            await task
            sock.close()
