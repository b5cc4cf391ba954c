"""Sockets that never read: closed with 1013 once their bound is passed, while a viewer that
reads gets every line on time and the room goes on."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from assistant.events import Chat, parse_event
from assistant.rooms import RoomCreated
from tests.faults.service import ServiceProcess, demo_room

STUCK = 200
LINES = 400


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    proc = ServiceProcess(
        {
            "LCA_STORE__PATH": str(tmp_path / "lca.sqlite3"),
            "LCA_CAPABILITIES": "[]",
            "LCA_UNDERSTAND__EMBEDDER": "none",
            "LCA_WS__SEND_QUEUE": "16",
            "LCA_BUS__SLOW_CONSUMER_TIMEOUT": "1",
            "LCA_LIMITS__CONNECTS_PER_ADDRESS": "100000/minute",
            "LCA_LIMITS__CONNECTIONS_PER_ADDRESS": "100000",
        },
        tmp_path,
    )
    await proc.start()
    yield proc
    await proc.stop()


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


async def test_sockets_that_never_read_are_closed_and_the_room_goes_on(
    service: ServiceProcess,
) -> None:
    room: RoomCreated = await demo_room(service)
    path = service.ws(room, "viewer").split(str(service.port), 1)[1]
    stuck = await asyncio.to_thread(lambda: [never_reads(service.port, path)
                                             for _ in range(STUCK)])  # fmt: skip
    try:
        async with (
            connect(service.ws(room, "viewer"), max_size=None) as reader,
            connect(service.ws(room, "host"), max_size=None) as host,
        ):
            # Long lines, so a stalled socket's buffers fill after a few of them.
            sent = [f"第{i}句 " + "好物推荐" * 120 for i in range(LINES)]
            for text in sent:
                await host.send(Chat(user={"id": "h", "name": "主播"}, text=text).wire())
            got: list[str] = []
            async with asyncio.timeout(60):
                while len(got) < LINES:
                    event = parse_event(await reader.recv())
                    if isinstance(event, Chat):
                        got.append(event.text)
            assert got == sent  # every line, in order, for the viewer that reads
            await service.until_metric("lca_ws_connections", lambda n: n <= 1, role="viewer")
        evicted = await service.metric("lca_ws_rejected_total", code="slow_consumer")
        assert evicted == STUCK
    finally:
        for sock in stuck:
            sock.close()
