"""Sockets that never read, against a real instance, with a viewer that does read."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from pydantic import BaseModel
from websockets.asyncio.client import connect

from assistant.events import Chat, parse_event
from tests.faults.service import ServiceProcess, demo_room


class Stalled(BaseModel):
    """``evicted_s``: first line sent to every stalled socket closed; ``lost``: lines the
    reading viewer never got; ``in_order``: whether it got them in the order sent."""

    stuck: int
    evicted: float
    evicted_s: float
    lines: int
    lost: int
    in_order: bool


def never_reads(port: int, path: str) -> socket.socket:
    """A WebSocket client that does the handshake, then never reads again (a tiny receive
    window, so the server's buffers fill after a few frames)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(1)  # byte by byte: nothing past the handshake is taken
    assert reply.startswith(b"HTTP/1.1 101"), reply
    return sock


async def stalled_sockets(workdir: Path, stuck: int = 200, lines: int = 400) -> Stalled:
    service = ServiceProcess(
        {
            "LCA_STORE__PATH": str(workdir / "lca.sqlite3"),
            "LCA_CAPABILITIES": "[]",
            "LCA_UNDERSTAND__EMBEDDER": "none",
            "LCA_WS__SEND_QUEUE": "16",
            "LCA_BUS__SLOW_CONSUMER_TIMEOUT": "1",
            "LCA_LIMITS__CONNECTS_PER_ADDRESS": "100000/minute",
            "LCA_LIMITS__CONNECTIONS_PER_ADDRESS": "100000",
        },
        workdir,
    )
    await service.start()
    socks: list[socket.socket] = []
    try:
        room = await demo_room(service)
        path = service.ws(room, "viewer").split(str(service.port), 1)[1]
        socks = await asyncio.to_thread(lambda: [never_reads(service.port, path)
                                                 for _ in range(stuck)])  # fmt: skip
        async with (
            connect(service.ws(room, "viewer"), max_size=None) as reader,
            connect(service.ws(room, "host"), max_size=None) as host,
        ):
            # Long lines, so a stalled socket's buffers fill after a few of them.
            sent = [f"第{i}句 " + "好物推荐" * 120 for i in range(lines)]
            start = time.monotonic()
            for text in sent:
                await host.send(Chat(user={"id": "h", "name": "主播"}, text=text).wire())
            got: list[str] = []
            async with asyncio.timeout(60):
                while len(got) < lines:
                    event = parse_event(await reader.recv())
                    if isinstance(event, Chat):
                        got.append(event.text)
            await service.until_metric("lca_ws_connections", lambda n: n <= 1, role="viewer")
            evicted_s = time.monotonic() - start
        return Stalled(
            stuck=stuck,
            evicted=await service.metric("lca_ws_rejected_total", code="slow_consumer"),
            evicted_s=round(evicted_s, 2),
            lines=lines,
            lost=len(set(sent) - set(got)),
            in_order=got == sent,
        )
    finally:
        for sock in socks:
            sock.close()
        await service.stop()
