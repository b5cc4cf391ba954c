"""The uvicorn server as the service runs it: header deadlines, connection caps, per-role frames."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from assistant.settings import Settings

FRAME_LIMIT = "lca.frame_limit"
EVICT = "lca.evict"
DIRECT = "lca.direct"


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, uncompressed server text frame (RFC 6455 5.2: servers never mask)."""
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 1 << 16:
        head = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return head + payload


class HeaderDeadline(HttpToolsProtocol):
    """Closes a connection whose request headers do not arrive in time (slowloris): uvicorn
    itself times out only idle keep-alive connections."""

    header_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()


class RoleFrames(WebSocketsSansIOProtocol):
    """Every socket starts with the small viewer cap on a message; the app raises it for a
    host or an anchor once the token is checked, through the ``lca.frame_limit`` extension.
    ``lca.evict`` closes a socket whose client stopped reading (see ``_evict``)."""

    drain_s = 2.0
    draining = False
    # The kernel's share of a socket's send buffer, fixed: left to autotuning it grows to
    # 4 MiB per client that stops reading, and the app's own bound would never be reached.
    socket_send_buffer = 256 * 1024

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.socket_send_buffer)
        super().connection_made(transport)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.scope["extensions"][FRAME_LIMIT] = {"set": self._set_limit}
        self.scope["extensions"][EVICT] = {"close": self._evict}
        self.scope["extensions"][DIRECT] = {"send": self._send_frame}

    def _send_frame(self, frame: bytes) -> bool:
        """Write a ready-made frame now, if the socket is open and its buffer has room (never
        between another send's frames: each write is whole, on the loop's one thread). A room
        encodes a line once for all its viewers instead of once per socket and per task."""
        if self.close_sent or not self.handshake_complete or not self.writable.is_set():
            return False
        if self.transport.is_closing():
            return False
        self.transport.write(frame)
        return True

    def _set_limit(self, size: int) -> None:
        self.conn.max_message_size = size

    def _evict(self, code: int, reason: str) -> None:
        """Close now, past flow control: an ASGI close waits, like every send, for the client
        to read what is buffered, which a stalled client never does. The close frame joins
        the buffer, and the connection is cut if the buffer has not drained in ``drain_s``."""
        if self.transport.is_closing():
            return
        if not self.close_sent:
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
            self.conn.send_close(code, reason)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
        self.transport.close()
        self.loop.call_later(self.drain_s, self.transport.abort)

    def handle_parser_exception(self) -> None:
        """Send the close frame (1009 for a message too big), then keep reading and dropping
        what the client already sent until it hangs up: closing at once would reset the
        connection with that data unread, and the client would never see the close code.
        The app may have closed first (a bad token): then only the draining is left to do."""
        if self.draining:
            return
        self.draining = True
        if not self.close_sent:
            assert self.conn.close_sent is not None
            close = self.conn.close_sent
            self.queue.put_nowait(
                {"type": "websocket.disconnect", "code": close.code, "reason": close.reason}
            )
            self.close_sent = True
        self.transport.write(b"".join(self.conn.data_to_send()))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        # uvicorn leaves the transport open while a close timer runs (the close handshake).
        if self.close_timer is not None:
            self.close_timer.cancel()
        self.close_timer = self.loop.call_later(self.drain_s, self.transport.close)


def raise_frame_limit(websocket: WebSocket, size: int) -> None:
    """Let this socket's messages reach ``size`` bytes (a no-op under another server)."""
    extension = websocket.scope.get("extensions", {}).get(FRAME_LIMIT)
    if extension is not None:
        extension["set"](size)


def direct_sender(websocket: WebSocket) -> Callable[[bytes], bool] | None:
    """The socket's way to write a ready-made frame at once (None under another server)."""
    extension = websocket.scope.get("extensions", {}).get(DIRECT)
    return extension["send"] if extension is not None else None


async def evict(websocket: WebSocket, code: int, reason: str) -> None:
    """Close a socket whose client stopped reading; a plain close under another server."""
    extension = websocket.scope.get("extensions", {}).get(EVICT)
    if extension is not None:
        extension["close"](code, reason)
    else:
        await websocket.close(code=code, reason=reason)


def server_config(app: FastAPI, settings: Settings, *, port: int, log_level: str) -> uvicorn.Config:
    server = settings.server
    deadline: type[HeaderDeadline] = type(
        "Deadline", (HeaderDeadline,), {"header_timeout_s": server.header_timeout_s}
    )
    return uvicorn.Config(
        app,
        host=server.host,
        port=port,
        http=deadline,
        ws=type("Frames", (RoleFrames,), {"socket_send_buffer": settings.ws.socket_send_buffer}),
        ws_max_size=settings.ws.viewer_protocol_limit,
        # Chat lines are tiny: compressing each frame for each viewer costs more than it saves.
        ws_per_message_deflate=False,
        timeout_keep_alive=server.keep_alive_s,
        limit_concurrency=server.max_connections,
        log_level=log_level,
        lifespan="on",
    )
