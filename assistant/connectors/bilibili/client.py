"""The Bilibili live chat connector: the open platform's signed app API, or a public web room."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from assistant.connectors.base import ConnectorError, ConnectorKind, PlatformMessage, Sink
from assistant.connectors.bilibili import commands
from assistant.connectors.bilibili.packets import Op, PacketError, pack, unpack
from assistant.connectors.specs import BilibiliSpec

log = logging.getLogger(__name__)

HTTP_TIMEOUT = httpx.Timeout(10.0)
SOCKET_TIMEOUT_S = 10.0  # to open the socket, and again for the auth reply
# Closing the socket and the game are courtesies: neither may hold up a stop for long.
CLOSE_TIMEOUT_S = 2.0
END_TIMEOUT_S = 3.0
MAX_FRAME = 4 * 1024 * 1024
# Open-platform codes a retry cannot fix: parameters, keys, signature, IP whitelist, permissions,
# room black/whitelist, the anchor's identity code (7007), the project (8002).
PERMANENT = frozenset(
    {4000, 4001, 4002, 4005, 4006, 4007, 4008, 4010, 4011, 4012, 4013, 5004, 5005, 7007, 8002}
)


class _Refused(ConnectorError):
    """The API answered, with a non-zero code."""


@dataclass(frozen=True)
class _Session:
    """Where one run connects, what it authenticates with, and what the console shows."""

    links: list[str]
    auth_body: bytes
    detail: str
    game_id: str = ""


class BilibiliConnector:
    """Reads one Bilibili live room's chat, gifts, likes and entries into a sink."""

    kind: ConnectorKind = "bilibili"

    def __init__(self, spec: BilibiliSpec) -> None:
        self.spec = spec

    async def run(self, sink: Sink) -> None:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            if self.spec.mode == "web":
                await self._stream(await self._web_session(http), sink)
                return
            session = await self._start(http)
            # Apps not yet published get no game id, and have no game to keep open or end.
            games = [self._game_heartbeats(http, session.game_id)] if session.game_id else []
            try:
                await _first(self._stream(session, sink), *games)
            finally:
                # An open game holds the anchor's room until it times out, blocking the next start.
                await self._end(http, session.game_id)

    async def _start(self, http: httpx.AsyncClient) -> _Session:
        spec = self.spec
        if not (spec.app_id and spec.access_key_id and spec.code):
            raise ConnectorError(
                "bilibili open mode needs app_id, access_key_id and code", retryable=False
            )
        data = await self._call(http, "/v2/app/start", {"code": spec.code, "app_id": spec.app_id})
        try:
            game_id = str(data["game_info"]["game_id"] or "")
            socket_info = data["websocket_info"]
            links = [str(link) for link in socket_info["wss_link"]]
            auth_body = str(socket_info["auth_body"]).encode()
            anchor = data.get("anchor_info") or {}
            detail = f"open platform: room {anchor.get('room_id', '?')} {anchor.get('uname', '')}"
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConnectorError(f"bilibili start: unexpected reply ({exc!r})") from exc
        return _Session(links, auth_body, f"{detail} (game {game_id or 'none'})", game_id)

    async def _web_session(self, http: httpx.AsyncClient) -> _Session:
        spec = self.spec
        if not spec.room_id:
            raise ConnectorError("bilibili web mode needs room_id", retryable=False)
        url = f"{spec.web_api_base.rstrip('/')}/xlive/web-room/v1/index/getDanmuInfo"
        try:
            response = await http.get(url, params={"id": spec.room_id})
        except httpx.HTTPError as exc:
            raise ConnectorError(f"bilibili getDanmuInfo: {exc!r}") from exc
        data = _reply(response, "getDanmuInfo")
        # A plain-HTTP API base is a local relay or fake, whose socket is plain too.
        scheme, port = (
            ("ws", "ws_port") if spec.web_api_base.startswith("http:") else ("wss", "wss_port")
        )
        try:
            token = str(data["token"])
            links = [f"{scheme}://{host['host']}:{host[port]}/sub" for host in data["host_list"]]
        except (KeyError, TypeError) as exc:
            raise ConnectorError(f"bilibili getDanmuInfo: unexpected reply ({exc!r})") from exc
        auth = {"uid": 0, "roomid": spec.room_id, "protover": 3, "platform": "web", "type": 2}
        auth_body = json.dumps({**auth, "key": token}).encode()
        return _Session(links, auth_body, f"web room {spec.room_id}")

    def _signed(self, body: bytes) -> dict[str, str]:
        """The open platform's headers: an HMAC-SHA256 over the x-bili-* ones, sorted."""
        signed = {
            "x-bili-accesskeyid": self.spec.access_key_id,
            "x-bili-content-md5": hashlib.md5(body, usedforsecurity=False).hexdigest(),
            "x-bili-signature-method": "HMAC-SHA256",
            "x-bili-signature-nonce": str(uuid.uuid4()),
            "x-bili-signature-version": "1.0",
            "x-bili-timestamp": str(int(time.time())),
        }
        canonical = "\n".join(f"{name}:{signed[name]}" for name in sorted(signed))
        secret = self.spec.access_key_secret.get_secret_value().encode()
        signature = hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()
        json_type = "application/json"
        return {
            **signed,
            "Authorization": signature,
            "Accept": json_type,
            "Content-Type": json_type,
        }

    async def _call(self, http: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        url = self.spec.api_base.rstrip("/") + path
        try:
            response = await http.post(url, content=body, headers=self._signed(body))
        except httpx.HTTPError as exc:
            raise ConnectorError(f"bilibili {path}: {exc!r}") from exc
        return _reply(response, path)

    async def _game_heartbeats(self, http: httpx.AsyncClient, game_id: str) -> None:
        """The game closes after 60 s without these; a refused one ends the run."""
        while True:
            await asyncio.sleep(self.spec.heartbeat_s)
            try:
                await self._call(http, "/v2/app/heartbeat", {"game_id": game_id})
            except _Refused:
                raise
            except ConnectorError as exc:
                # One heartbeat lost on the way is within the platform's grace; the next may pass.
                log.warning("%s", exc.message)

    async def _end(self, http: httpx.AsyncClient, game_id: str) -> None:
        if not game_id:
            return
        try:
            async with asyncio.timeout(END_TIMEOUT_S):
                await self._call(
                    http, "/v2/app/end", {"game_id": game_id, "app_id": self.spec.app_id}
                )
        except (ConnectorError, TimeoutError) as exc:
            log.info("bilibili game %s not ended: %r", game_id, exc)

    async def _stream(self, session: _Session, sink: Sink) -> None:
        async with await _connect(session.links) as socket:
            try:
                await _authenticate(socket, session.auth_body)
                sink.connected(session.detail)
                await _first(self._heartbeats(socket), self._read(socket, sink, session.game_id))
            except ConnectionClosed as exc:
                raise ConnectorError(f"bilibili socket closed: {exc}") from exc

    async def _heartbeats(self, socket: ClientConnection) -> None:
        while True:
            await socket.send(pack(Op.HEARTBEAT))
            await asyncio.sleep(self.spec.heartbeat_s)

    async def _read(self, socket: ClientConnection, sink: Sink, game_id: str) -> None:
        # The server answers every heartbeat, so this long without a frame is a dead link.
        silence = 3 * self.spec.heartbeat_s
        while True:
            try:
                async with asyncio.timeout(silence):
                    message = await socket.recv()
            except TimeoutError as exc:
                raise ConnectorError(f"bilibili socket silent for {silence:g} s") from exc
            try:
                packets = unpack(_frame(message))
            except PacketError as exc:
                sink.dropped(exc.message)
                continue
            for packet in packets:
                if packet.op == Op.COMMAND:
                    await _deliver(packet.body, sink, game_id)


async def _connect(links: list[str]) -> ClientConnection:
    """The first server of ``links`` that accepts a socket."""
    failures: list[str] = []
    for link in links:
        try:
            # Liveness is the protocol heartbeat's job; WebSocket pings would only double it.
            return await connect(
                link,
                open_timeout=SOCKET_TIMEOUT_S,
                close_timeout=CLOSE_TIMEOUT_S,
                max_size=MAX_FRAME,
                ping_interval=None,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            failures.append(f"{link}: {exc!r}")
    raise ConnectorError(
        f"no bilibili danmaku server answered: {'; '.join(failures) or 'none listed'}"
    )


async def _authenticate(socket: ClientConnection, auth_body: bytes) -> None:
    await socket.send(pack(Op.AUTH, auth_body))
    try:
        async with asyncio.timeout(SOCKET_TIMEOUT_S):
            while True:
                for packet in unpack(_frame(await socket.recv())):
                    if packet.op == Op.AUTH_REPLY:
                        return _check_auth(packet.body)
    except TimeoutError as exc:
        raise ConnectorError("bilibili socket: no auth reply") from exc


def _check_auth(body: bytes) -> None:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError) as exc:
        raise ConnectorError(f"bilibili socket: unreadable auth reply ({exc})") from exc
    if code != 0:
        # The auth body is fresh from this run's start: a refusal is an expired key, worth a retry.
        raise ConnectorError(f"bilibili socket refused the auth: code {code}")


def _frame(message: str | bytes) -> bytes:
    if isinstance(message, str):
        raise PacketError("a text frame on a binary protocol")
    return message


async def _deliver(body: bytes, sink: Sink, game_id: str) -> None:
    try:
        events = commands.parse(json.loads(body), game_id=game_id)
    except (ValueError, commands.MalformedCommand) as exc:  # bad JSON or UTF-8, or a misfit
        sink.dropped(f"bilibili command: {exc}")
        return
    for event in events:
        if isinstance(event, PlatformMessage):
            await sink.chat(event)
        else:
            await sink.activity(event)


def _reply(response: httpx.Response, what: str) -> Any:
    """The ``data`` of a ``{code, message, data}`` reply; a non-zero code raises ``_Refused``."""
    try:
        reply = response.json()
        code, message, data = reply.get("code"), reply.get("message", ""), reply.get("data")
    except (ValueError, AttributeError) as exc:
        raise ConnectorError(
            f"bilibili {what}: HTTP {response.status_code}, no JSON reply"
        ) from exc
    if code != 0:
        permanent = isinstance(code, int) and code in PERMANENT
        raise _Refused(f"bilibili {what}: code {code} {message}", retryable=not permanent)
    return data


async def _first(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run ``jobs`` together until one ends: the others are cancelled and its error is raised."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
