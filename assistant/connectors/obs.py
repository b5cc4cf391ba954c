"""Screenshots of OBS's program scene (or one source) over obs-websocket v5, as room frames."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import itertools
import json
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from assistant.connectors.base import ConnectorError, ConnectorKind, Sink
from assistant.connectors.specs import ObsSpec

SUBPROTOCOL = Subprotocol("obswebsocket.json")
RPC_VERSION = 1
REPLY_TIMEOUT_S = 10.0
MAX_MESSAGE = 32 * 2**20  # a 3840-wide screenshot in base64 passes websockets' 1 MiB default
# obs-websocket close codes that a reconnect cannot fix
PERMANENT_CLOSES = {
    4009: "OBS refused the password",
    4010: "OBS does not speak obs-websocket RPC version 1",
}
NOT_READY = 207  # OBS is starting or shutting down

_M = TypeVar("_M", bound=BaseModel)


class _Envelope(BaseModel):
    op: int
    d: dict[str, Any]


class _Challenge(BaseModel):
    challenge: str
    salt: str


class _Hello(BaseModel):
    obsWebSocketVersion: str = ""
    rpcVersion: int
    authentication: _Challenge | None = None


class _Status(BaseModel):
    result: bool
    code: int
    comment: str | None = None


class _Response(BaseModel):
    requestId: str
    requestStatus: _Status
    responseData: dict[str, Any] | None = None


class _Scene(BaseModel):
    currentProgramSceneName: str


class _Screenshot(BaseModel):
    imageData: str


def authentication(password: str, salt: str, challenge: str) -> str:
    """obs-websocket's answer to a challenge: base64(sha256(base64(sha256(password + salt)) +
    challenge))."""
    secret = base64.b64encode(hashlib.sha256((password + salt).encode()).digest())
    return base64.b64encode(hashlib.sha256(secret + challenge.encode()).digest()).decode()


def _image(data_uri: str) -> bytes | None:
    """The bytes of a ``data:image/jpg;base64,...`` URI; None when it is not one."""
    head, sep, payload = data_uri.partition(",")
    if not sep or not head.startswith("data:image/") or not head.endswith(";base64"):
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error:
        return None


class ObsConnector:
    """Asks OBS for a JPEG of what it broadcasts every 1/fps seconds: the current program scene,
    looked up before each shot so scene switches are followed, or ``spec.source``.

    Speaks the v5 protocol (JSON) over ``websockets`` directly: one request at a time needs no
    client library. A refused password or RPC version is final; a dropped connection, a timeout
    or OBS not ready is retried by the manager."""

    kind: ConnectorKind = "obs"

    def __init__(self, spec: ObsSpec) -> None:
        self.spec = spec

    async def run(self, sink: Sink) -> None:
        try:
            async with connect(
                self.spec.url,
                subprotocols=[SUBPROTOCOL],
                open_timeout=REPLY_TIMEOUT_S,
                max_size=MAX_MESSAGE,
            ) as ws:
                session = _Session(ws)
                version = await session.identify(self.spec.password)
                sink.connected(f"obs-websocket {version}")
                await self._capture(session, sink)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code in PERMANENT_CLOSES:
                raise ConnectorError(PERMANENT_CLOSES[code], retryable=False) from exc
            raise ConnectorError(f"OBS closed the connection (code {code})") from exc
        except InvalidURI as exc:
            raise ConnectorError(f"not a WebSocket URL: {exc}", retryable=False) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise ConnectorError(f"cannot reach OBS: {exc}") from exc

    async def _capture(self, session: _Session, sink: Sink) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.spec.fps
        due = loop.time()
        while True:
            source = self.spec.source
            if source is None:
                scene = await session.request("GetCurrentProgramScene")
                source = _parse(_Scene, scene).currentProgramSceneName
            shot = await session.request(
                "GetSourceScreenshot",
                {"sourceName": source, "imageFormat": "jpg", "imageWidth": self.spec.width},
            )
            image = _image(_parse(_Screenshot, shot).imageData)
            if image is None:
                sink.dropped("malformed")
            else:
                await sink.frame(image)
            # a fixed schedule, not a fixed pause: slow replies do not lower the rate
            due = max(due + interval, loop.time())
            await asyncio.sleep(due - loop.time())


def _parse(model: type[_M], data: object) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConnectorError(f"OBS sent an unexpected message: {exc}") from exc


class _Session:
    """One obs-websocket connection: identify, then requests one at a time, replies matched by
    id (events are not subscribed to, so nothing else arrives)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def identify(self, password: SecretStr | None) -> str:
        hello = _parse(_Hello, await self._receive(0))
        identify: dict[str, Any] = {"rpcVersion": RPC_VERSION, "eventSubscriptions": 0}
        if hello.authentication is not None:
            if password is None:
                raise ConnectorError("OBS asks for a password and none is set", retryable=False)
            challenge = hello.authentication
            secret = password.get_secret_value()
            identify["authentication"] = authentication(secret, challenge.salt, challenge.challenge)
        await self.ws.send(json.dumps({"op": 1, "d": identify}))
        await self._receive(2)
        return hello.obsWebSocketVersion

    async def request(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = str(next(self.ids))
        body: dict[str, Any] = {"requestType": kind, "requestId": request_id}
        if data is not None:
            body["requestData"] = data
        await self.ws.send(json.dumps({"op": 6, "d": body}))
        while True:
            reply = _parse(_Response, await self._receive(7))
            if reply.requestId == request_id:
                break
        status = reply.requestStatus
        if not status.result:
            raise ConnectorError(
                f"OBS refused {kind}: {status.comment or 'no reason given'} (code {status.code})",
                # a missing source or a bad field stays so; only OBS's own state may change
                retryable=status.code == NOT_READY or status.code >= 700,
            )
        return reply.responseData or {}

    async def _receive(self, op: int) -> dict[str, Any]:
        """The payload of the next message with opcode ``op``."""
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                while True:
                    raw = await self.ws.recv()
                    envelope = _parse(_Envelope, json.loads(raw))
                    if envelope.op == op:
                        return envelope.d
        except TimeoutError as exc:
            raise ConnectorError(f"OBS did not answer within {REPLY_TIMEOUT_S:g} s") from exc
        except json.JSONDecodeError as exc:
            raise ConnectorError("OBS sent a message that is not JSON") from exc
