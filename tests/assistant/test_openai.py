"""The OpenAI-compatible backend against real sockets: llama_cpp.server (Gemma), dead and silent."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from assistant.brain.llm import LLMSettings, LLMTimeout, LLMUnavailable, Message
from assistant.brain.llm.models import model_path
from assistant.brain.llm.openai import OpenAILLM
from tests.assistant.conftest import MODEL_DIR

FIXTURE = model_path(MODEL_DIR, "fixture")
PROMPT = [Message(role="user", content="Once upon a time there was a")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not FIXTURE.exists():
        pytest.skip("run: python -m assistant.brain.llm.install fixture")
    port = _free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(FIXTURE), "--host",
           "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--chat_format", "gemma",
           "--model_alias", "gemma-fixture"]  # fmt: skip
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    log_fh = log.open("wb")  # a pipe would fill up with llama.cpp's load log and block it
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log_fh)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server died: {log.read_text()[-500:]}")
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        log_fh.close()


@pytest.fixture
async def llm(server: str) -> AsyncIterator[OpenAILLM]:
    client = OpenAILLM(LLMSettings(backend="openai", base_url=server, model="gemma-fixture"))
    yield client
    await client.close()


@pytest.mark.slow
async def test_streams_over_sse(llm: OpenAILLM) -> None:
    pieces = [p async for p in llm.stream(PROMPT, max_tokens=8, temperature=0.0)]
    assert len(pieces) >= 2 and all(isinstance(p, str) for p in pieces)


async def test_unreachable_server_is_unavailable() -> None:
    dead = OpenAILLM(LLMSettings(backend="openai", base_url=f"http://127.0.0.1:{_free_port()}/v1"))
    with pytest.raises(LLMUnavailable, match="unreachable"):
        _ = [p async for p in dead.stream(PROMPT)]
    await dead.close()


async def test_silent_server_times_out() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept, then never answer

    srv = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    slow = OpenAILLM(
        LLMSettings(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.3)
    )
    with pytest.raises(LLMTimeout):
        _ = [p async for p in slow.stream(PROMPT)]
    await slow.close()
    for writer in writers:
        writer.close()
        await writer.wait_closed()
    srv.close()
    await srv.wait_closed()
