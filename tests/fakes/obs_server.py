"""A fake OBS: obs-websocket v5 (JSON) with Hello/Identify, password auth and screenshots."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

AUTH_FAILED = 4009


def expected_auth(password: str, salt: str, challenge: str) -> str:
    """The documented recipe, written out here so the fake does not trust the connector's."""
    secret = base64.b64encode(hashlib.sha256(password.encode() + salt.encode()).digest()).decode()
    return base64.b64encode(hashlib.sha256((secret + challenge).encode()).digest()).decode()


class FakeObs:
    """Serves one scene and its sources on 127.0.0.1. ``image`` is what every screenshot returns:
    bytes go out as a ``data:image/jpg;base64`` URI, a str verbatim (to send something broken)."""

    def __init__(
        self,
        image: bytes | str,
        *,
        password: str | None = None,
        scene: str = "Scene",
        sources: tuple[str, ...] = ("Camera",),
    ) -> None:
        self.image = image
        self.password = password
        self.scene = scene
        self.sources = {scene, *sources}
        self.requests: list[dict[str, Any]] = []  # each request's type and data, in order
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["requestType"] == kind]

    def drop(self) -> None:
        """Cut every connection without a close frame, as a crash or a network loss would."""
        assert self._server is not None
        for connection in self._server.connections:
            connection.transport.abort()

    async def __aenter__(self) -> FakeObs:
        subprotocols = [Subprotocol("obswebsocket.json")]
        self._server = await serve(self._session, "127.0.0.1", 0, subprotocols=subprotocols)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _session(self, ws: ServerConnection) -> None:
        hello: dict[str, Any] = {"obsWebSocketVersion": "5.5.4", "rpcVersion": 1}
        salt, challenge = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        if self.password is not None:
            hello["authentication"] = {"challenge": challenge, "salt": salt}
        await ws.send(json.dumps({"op": 0, "d": hello}))
        identify = json.loads(await ws.recv())
        assert identify["op"] == 1 and identify["d"]["rpcVersion"] == 1
        if self.password is not None:
            wanted = expected_auth(self.password, salt, challenge)
            if identify["d"].get("authentication") != wanted:
                await ws.close(AUTH_FAILED, "Authentication failed.")
                return
        await ws.send(json.dumps({"op": 2, "d": {"negotiatedRpcVersion": 1}}))
        async for raw in ws:
            message = json.loads(raw)
            assert message["op"] == 6
            await ws.send(json.dumps({"op": 7, "d": self._answer(message["d"])}))

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        kind, data = request["requestType"], request.get("requestData", {})
        self.requests.append({"requestType": kind, **data})
        reply: dict[str, Any] = {"requestType": kind, "requestId": request["requestId"]}
        if kind == "GetCurrentProgramScene":
            found: dict[str, Any] = {"currentProgramSceneName": self.scene, "sceneName": self.scene}
        elif kind == "GetSourceScreenshot" and data.get("sourceName") not in self.sources:
            return reply | {"requestStatus": {"result": False, "code": 600, "comment": "No source"}}
        elif kind == "GetSourceScreenshot":
            found = {"imageData": self._data_uri()}
        else:
            return reply | {"requestStatus": {"result": False, "code": 204}}
        return reply | {"requestStatus": {"result": True, "code": 100}, "responseData": found}

    def _data_uri(self) -> str:
        if isinstance(self.image, str):
            return self.image
        return "data:image/jpg;base64," + base64.b64encode(self.image).decode()
