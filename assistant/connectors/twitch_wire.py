"""EventSub's side of the Twitch connector: its messages as models, and the session's sockets."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import datetime
from typing import Any

from pydantic import AliasPath, BaseModel, Field
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from assistant.connectors.base import ConnectorError

TIMEOUT_S = 10.0  # Twitch closes a session that has no subscription about 10 s after its welcome
_NANOS = re.compile(r"(\.\d{6})\d+")  # Twitch sends nanoseconds, datetime keeps microseconds
KEEPALIVE = "keepalive_timeout_seconds"


class Envelope(BaseModel):
    id: str = Field(validation_alias=AliasPath("metadata", "message_id"))
    type: str = Field(validation_alias=AliasPath("metadata", "message_type"))
    timestamp: str = Field("", validation_alias=AliasPath("metadata", "message_timestamp"))
    payload: dict[str, Any] = {}


class SessionInfo(BaseModel):
    """A welcome's or a reconnect's payload."""

    id: str = Field(validation_alias=AliasPath("session", "id"))
    keepalive_s: int | None = Field(None, validation_alias=AliasPath("session", KEEPALIVE))
    reconnect_url: str | None = Field(None, validation_alias=AliasPath("session", "reconnect_url"))


class Subscribed(BaseModel):
    """A notification's or a revocation's payload (a revocation has no event)."""

    kind: str = Field(validation_alias=AliasPath("subscription", "type"))
    status: str = Field("", validation_alias=AliasPath("subscription", "status"))
    event: dict[str, Any] = {}


class ChatEvent(BaseModel):
    message_id: str
    chatter_user_id: str
    chatter_user_name: str = ""
    text: str = Field(validation_alias=AliasPath("message", "text"))


class UserEvent(BaseModel):
    """A follow, or a cheer (``bits``; no user when anonymous)."""

    user_id: str | None = None
    user_name: str | None = None
    is_anonymous: bool = False
    bits: int = 0


def parse_time(text: str) -> float | None:
    try:
        return datetime.fromisoformat(_NANOS.sub(r"\1", text)).timestamp()
    except ValueError:
        return None


def silence_allowed(keepalive_s: int | None) -> float:
    """Silence allowed before the socket counts as dead: the keepalive plus a margin for jitter,
    kept in proportion so that a short keepalive still notices a dead socket quickly."""
    base = float(keepalive_s or TIMEOUT_S)
    return base + min(5.0, base / 2)


Frame = tuple[ClientConnection, str | bytes | None]  # None: that socket has closed


class Sockets:
    """The session's socket and, during a ``session_reconnect``, the one it moves to; both feed
    one queue so that nothing sent on the old socket before the move completes is lost."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[Frame] = asyncio.Queue(maxsize=256)
        self._pumps: dict[ClientConnection, asyncio.Task[None]] = {}
        self.current: ClientConnection | None = None
        self.moving_to: ClientConnection | None = None

    async def open(self, url: str) -> ClientConnection:
        try:
            # no client pings: EventSub closes a socket that sends anything but pongs, and the
            # keepalive watchdog notices a dead connection anyway
            ws = await connect(url, ping_interval=None, open_timeout=TIMEOUT_S)
        except InvalidURI as exc:
            raise ConnectorError(f"not a WebSocket URL: {url[:200]}", retryable=False) from exc
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise ConnectorError(f"cannot open Twitch EventSub: {exc}") from exc
        self._pumps[ws] = asyncio.create_task(self._pump(ws))
        return ws

    async def _pump(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                await self.frames.put((ws, raw))
        await self.frames.put((ws, None))

    def ended(self, ws: ClientConnection) -> bool:
        """Whether a socket's end ends the session (the old one may end during a move)."""
        return ws is self.moving_to or (ws is self.current and self.moving_to is None)

    async def adopt(self, ws: ClientConnection) -> None:
        """The socket moved to is welcomed: close the old one only now, as Twitch sends on it
        until then."""
        if self.current is not None:
            await self.close(self.current)
        self.current, self.moving_to = ws, None

    async def close(self, ws: ClientConnection) -> None:
        task = self._pumps.pop(ws, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ws.close()

    async def close_all(self) -> None:
        for ws in list(self._pumps):
            await self.close(ws)
