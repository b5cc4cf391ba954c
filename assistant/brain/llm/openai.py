"""OpenAI-compatible chat backend (vLLM, Ollama, llama.cpp server, cloud) streaming over SSE."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import ValidationError

from assistant.brain.llm.base import BadStructuredOutput, LLMTimeout, LLMUnavailable, Message, T
from assistant.brain.llm.settings import LLMSettings


class OpenAILLM:
    """Talks to ``{base_url}/chat/completions``; the server does its own batching and fairness."""

    name = "openai"

    def __init__(self, settings: LLMSettings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        headers = {}
        if settings.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=min(5.0, settings.timeout_s)),
            transport=transport,
        )

    async def start(self) -> None:
        try:
            resp = await self._client.get("/models")
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"LLM server at {self.settings.base_url}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()

    def _body(
        self, messages: list[Message], max_tokens: int, temperature: float | None
    ) -> dict[str, Any]:
        return {
            "model": self.settings.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": max_tokens,
            "temperature": self.settings.temperature if temperature is None else temperature,
        }

    async def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 128,
        temperature: float | None = None,
        stop: list[str] | None = None,
        room_id: str = "",
    ) -> AsyncIterator[str]:
        body = self._body(messages, max_tokens, temperature) | {"stream": True}
        if stop:
            body["stop"] = stop
        try:
            async with self._client.stream("POST", "/chat/completions", json=body) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    raise LLMUnavailable(f"LLM server said {resp.status_code}: {resp.text[:200]}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    choices = json.loads(data).get("choices") or [{}]
                    piece = (choices[0].get("delta") or {}).get("content")
                    if piece:
                        yield piece
        except httpx.TimeoutException as exc:
            raise LLMTimeout(f"LLM server timed out: {exc!r}") from exc
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise LLMUnavailable(f"LLM server unreachable: {exc!r}") from exc

    async def prime(self, messages: list[Message], *, room_id: str = "") -> None:
        """The server caches prompts itself (llama.cpp server's cache_prompt): nothing to do."""

    async def structured(
        self, messages: list[Message], schema: type[T], *, max_tokens: int = 64, room_id: str = ""
    ) -> T:
        body = self._body(messages, max_tokens, 0.0) | {
            "response_format": {"type": "json_object", "schema": schema.model_json_schema()}
        }
        try:
            resp = await self._client.post("/chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise LLMTimeout(f"LLM server timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"LLM server unreachable: {exc!r}") from exc
        if resp.status_code != 200:
            raise LLMUnavailable(f"LLM server said {resp.status_code}: {resp.text[:200]}")
        try:
            content = resp.json()["choices"][0]["message"]["content"]
            return schema.model_validate_json(content)
        except (KeyError, IndexError, ValueError, ValidationError) as exc:
            raise BadStructuredOutput(f"bad JSON from LLM server: {resp.text[:200]!r}") from exc
