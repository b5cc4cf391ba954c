"""Runs a real app under uvicorn on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from assistant.app import create_app
from assistant.server import server_config
from assistant.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    """Yield the base URL (http://127.0.0.1:PORT) of a running instance; stop it on exit."""
    port = free_port()
    config = server_config(create_app(settings), settings, port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited before it started")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
