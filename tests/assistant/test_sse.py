"""The OpenAI-compatible backend's wire handling, over httpx.MockTransport: SSE, errors, JSON."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import BaseModel

from assistant.brain.llm import LLMSettings, LLMUnavailable, Message
from assistant.brain.llm.base import BadStructuredOutput
from assistant.brain.llm.openai import OpenAILLM

PROMPT = [Message(role="user", content="这款多少钱")]


def sse(*events: str) -> bytes:
    return "".join(f"{e}\n\n" for e in events).encode()


def delta(text: str) -> str:
    return "data: " + json.dumps({"choices": [{"delta": {"content": text}}]}, ensure_ascii=False)


def backend(handler: httpx.MockTransport) -> OpenAILLM:
    return OpenAILLM(LLMSettings(backend="openai", model="m"), transport=handler)


async def test_stream_yields_each_delta_and_stops_at_done() -> None:
    seen: list[dict[str, object]] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        body = sse(": keep-alive", delta("五十"), 'data: {"choices":[{"delta":{}}]}',
                   delta("九元"), "data: [DONE]", delta("never"))  # fmt: skip
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    llm = backend(httpx.MockTransport(reply))
    pieces = [p async for p in llm.stream(PROMPT, max_tokens=8, stop=["。"])]
    await llm.close()
    assert pieces == ["五十", "九元"]
    assert seen[0]["stream"] is True and seen[0]["stop"] == ["。"] and seen[0]["max_tokens"] == 8


@pytest.mark.parametrize(
    "response",
    [httpx.Response(503, text="loading model"), httpx.Response(200, content=sse("data: {oops"))],
)
async def test_a_bad_reply_is_unavailable_not_a_crash(response: httpx.Response) -> None:
    llm = backend(httpx.MockTransport(lambda _: response))
    with pytest.raises(LLMUnavailable):
        _ = [p async for p in llm.stream(PROMPT)]
    await llm.close()


class Pick(BaseModel):
    fact: int


async def test_structured_reply_is_validated() -> None:
    def reply(content: str) -> httpx.MockTransport:
        body = {"choices": [{"message": {"content": content}}]}
        return httpx.MockTransport(lambda _: httpx.Response(200, json=body))

    good = backend(reply('{"fact": 2}'))
    assert (await good.structured(PROMPT, Pick)).fact == 2
    await good.close()
    bad = backend(reply('{"fact": "two"}'))
    with pytest.raises(BadStructuredOutput):
        await bad.structured(PROMPT, Pick)
    await bad.close()
