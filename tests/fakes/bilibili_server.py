"""A fake Bilibili open platform, web room API and danmaku socket on loopback, for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import brotli  # type: ignore[import-untyped,unused-ignore]
import uvicorn
from fastapi import FastAPI, Request
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.waits import Changes

# Built from the protocol's documentation, not from the connector's code.
HEADER = struct.Struct(">IHHII")
SIGNED_HEADERS = (
    "x-bili-accesskeyid",
    "x-bili-content-md5",
    "x-bili-signature-method",
    "x-bili-signature-nonce",
    "x-bili-signature-version",
    "x-bili-timestamp",
)


def frame(op: int, body: bytes = b"", protover: int = 0) -> bytes:
    """One packet: packet length, header length 16, protover, operation, sequence 1, body."""
    return HEADER.pack(16 + len(body), 16, protover, op, 1) + body


def commands_frame(*commands: dict[str, Any], protover: int = 0) -> bytes:
    """Commands in one frame: plain JSON packets (0), or one zlib (2) or brotli (3) batch."""
    plain = b"".join(frame(5, json.dumps(c, ensure_ascii=False).encode()) for c in commands)
    if protover == 0:
        return plain
    packed: bytes = zlib.compress(plain) if protover == 2 else brotli.compress(plain)
    return frame(5, packed, protover)


def expected_signature(headers: Mapping[str, str], secret: str) -> str:
    """The documented recipe: hex HMAC-SHA256 of the x-bili-* headers as sorted name:value lines."""
    lines = sorted(f"{name}:{headers[name]}" for name in SIGNED_HEADERS)
    return hmac.new(secret.encode(), "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def _read_packet(message: str | bytes) -> tuple[int, bytes]:
    if isinstance(message, str):
        raise ValueError("text frame")
    length, header_length, _, op, _ = HEADER.unpack_from(message)
    if length != len(message) or header_length != 16:
        raise ValueError(f"bad lengths {length}/{header_length} for {len(message)} bytes")
    return op, message[16:]


class FakeBilibili(Changes):
    """Checks signatures and auth packets the way the platform documents them, and records calls."""

    def __init__(self) -> None:
        self.access_key_id = "fake-key-id"
        self.secret = "fake-secret"
        self.code = "ANCHOR0CODE"
        self.app_id = 1650
        self.room_id = 7734
        self.token = "web-room-token"
        self.start_code = 0  # when set, starts are answered with this code instead
        self.answer_heartbeats = True
        self.extra_links: list[str] = []  # listed before this socket in a start's wss_link
        self.http_url = ""
        self.ws_url = ""
        self.calls: list[tuple[str, dict[str, Any]]] = []  # signed calls that passed the checks
        self.refusals: list[int] = []
        self.auths: list[dict[str, Any]] = []
        self.socket_heartbeats: list[float] = []  # time.monotonic() of each
        self.games: set[str] = set()
        self._started = 0
        self._nonces: set[str] = set()
        self._socket: ServerConnection | None = None
        super().__init__()  # touched by each call, auth or heartbeat

    def open_spec(self) -> dict[str, Any]:
        """A host's request body for an open-platform connector to this fake."""
        return {
            "kind": "bilibili",
            "app_id": self.app_id,
            "access_key_id": self.access_key_id,
            "access_key_secret": self.secret,
            "code": self.code,
            "api_base": self.http_url,
        }

    def called(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.calls if name == action]

    async def push(self, data: bytes | str) -> None:
        """Send a frame to the last authenticated socket."""
        if self._socket is None:
            raise RuntimeError("no socket is authenticated")
        await self._socket.send(data)

    def drop(self) -> None:
        """Cut the connection with no close handshake (what was pushed is flushed first)."""
        if self._socket is None:
            raise RuntimeError("no socket is authenticated")
        self._socket.transport.close()

    def http_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v2/app/{action}")
        async def app_api(action: str, request: Request) -> dict[str, Any]:
            body = await request.body()
            refusal = self._check_signature(request.headers, body)
            if refusal:
                self.refusals.append(refusal)
                self.touch()
                return {"code": refusal, "message": "refused", "data": {}}
            payload: dict[str, Any] = json.loads(body)
            self.calls.append((action, payload))
            self.touch()
            code, data = self._answer(action, payload)
            return {"code": code, "message": "ok" if code == 0 else "refused", "data": data}

        @app.get("/xlive/web-room/v1/index/getDanmuInfo")
        async def danmu_info(id: int) -> dict[str, Any]:
            if id != self.room_id:
                return {"code": 1, "message": "no such room", "data": None}
            port = int(self.ws_url.rsplit(":", 1)[1].split("/")[0])
            host = {"host": "127.0.0.1", "port": port, "wss_port": port, "ws_port": port}
            return {"code": 0, "message": "0", "data": {"token": self.token, "host_list": [host]}}

        return app

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> int:
        """0, or the platform's documented error code for what is wrong."""
        if any(name not in headers for name in (*SIGNED_HEADERS, "authorization")):
            return 4002
        if headers["x-bili-accesskeyid"] != self.access_key_id:
            return 4001
        if headers["x-bili-content-md5"] != hashlib.md5(body).hexdigest():
            return 4012
        if headers["x-bili-signature-method"] != "HMAC-SHA256":
            return 4005
        if headers["x-bili-signature-version"] != "1.0":
            return 4006
        if abs(time.time() - int(headers["x-bili-timestamp"])) > 300:
            return 4003
        if headers["x-bili-signature-nonce"] in self._nonces:
            return 4004
        self._nonces.add(headers["x-bili-signature-nonce"])
        if headers.get("content-type") != "application/json":
            return 4011
        expected = expected_signature(headers, self.secret)
        return 0 if hmac.compare_digest(headers["authorization"], expected) else 4002

    def _answer(self, action: str, payload: dict[str, Any]) -> tuple[int, Any]:
        if action == "start":
            if payload.get("code") != self.code:
                return 7007, {}
            if payload.get("app_id") != self.app_id:
                return 8002, {}
            if self.start_code:
                return self.start_code, {}
            self._started += 1
            game_id = f"game-{self._started}"
            self.games.add(game_id)
            auth = {"roomid": self.room_id, "protover": 2, "uid": 1, "key": f"key-{game_id}"}
            return 0, {
                "game_info": {"game_id": game_id},
                "websocket_info": {
                    "auth_body": json.dumps({**auth, "group": "open"}),
                    "wss_link": [*self.extra_links, self.ws_url],
                },
                "anchor_info": {"room_id": self.room_id, "uname": "主播", "uid": 9, "uface": ""},
            }
        if action == "heartbeat":
            return (0 if payload.get("game_id") in self.games else 7003), {}
        if action == "end":
            if payload.get("app_id") != self.app_id or payload.get("game_id") not in self.games:
                return 7003, {}
            self.games.discard(payload["game_id"])
            return 0, {}
        return 4010, {}

    def _auth_ok(self, auth: dict[str, Any]) -> bool:
        if auth.get("key") in {f"key-{game}" for game in self.games}:
            return True
        web = {"uid": 0, "roomid": self.room_id, "protover": 3, "platform": "web", "type": 2}
        return auth == {**web, "key": self.token}

    async def serve_socket(self, connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            op, body = _read_packet(await connection.recv())
            auth = json.loads(body) if op == 7 else {}
            ok = self._auth_ok(auth)
            await connection.send(frame(8, json.dumps({"code": 0 if ok else -101}).encode()))
            if not ok:
                return
            self.auths.append(auth)
            self._socket = connection
            self.touch()
            async for message in connection:
                op, _ = _read_packet(message)
                if op != 2:
                    continue
                self.socket_heartbeats.append(time.monotonic())
                self.touch()
                if self.answer_heartbeats:
                    await connection.send(frame(3, struct.pack(">I", 1), protover=1))


@asynccontextmanager
async def running_fake() -> AsyncIterator[FakeBilibili]:
    """A fake with its HTTP API and its socket listening on free loopback ports."""
    fake = FakeBilibili()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # connections queue from here on, so no wait for uvicorn's start
    fake.http_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = uvicorn.Config(fake.http_app(), log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    http_task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with serve(fake.serve_socket, "127.0.0.1", 0) as socket_server:
            port = socket_server.sockets[0].getsockname()[1]
            fake.ws_url = f"ws://127.0.0.1:{port}/sub"
            yield fake
    finally:
        server.should_exit = True
        await http_task
        listener.close()
