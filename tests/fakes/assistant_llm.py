"""Scripted LLMs for the brain's tests: canned replies, an obedient liar, a dead one, a slow one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable

from assistant.brain.llm.base import LLMUnavailable, Message, T


class ScriptedLLM:
    """Replies with ``reply(messages)`` in small pieces; records every call."""

    name = "scripted"

    def __init__(
        self,
        reply: Callable[[list[Message]], str] | str,
        *,
        piece: int = 3,
        fail: bool = False,
        delay: float = 0.0,
        structured_reply: object | None = None,
    ) -> None:
        self.reply = reply
        self.piece = piece
        self.fail = fail
        self.delay = delay
        self.structured_reply = structured_reply
        self.calls: list[list[Message]] = []
        self.primed: list[list[Message]] = []
        self.closed = False

    def _text(self, messages: list[Message]) -> str:
        return self.reply(messages) if callable(self.reply) else self.reply

    async def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 128,
        temperature: float | None = None,
        stop: list[str] | None = None,
        room_id: str = "",
    ) -> AsyncIterator[str]:
        self.calls.append(messages)
        if self.fail:
            raise LLMUnavailable("scripted outage")
        text = self._text(messages)
        for i in range(0, len(text), self.piece):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield text[i : i + self.piece]

    async def structured(
        self, messages: list[Message], schema: type[T], *, max_tokens: int = 64, room_id: str = ""
    ) -> T:
        self.calls.append(messages)
        if self.fail or self.structured_reply is None:
            raise LLMUnavailable("scripted outage")
        return schema.model_validate(self.structured_reply)

    async def prime(self, messages: list[Message], *, room_id: str = "") -> None:
        self.primed.append(messages)

    async def start(self) -> None:
        if self.fail:
            raise LLMUnavailable("scripted outage")

    async def close(self) -> None:
        self.closed = True


_VIEWER = re.compile(r"<viewer[^>]*>(.*?)</viewer>", re.S)


def obedient_liar(messages: list[Message]) -> str:
    """The worst case: a model that does whatever the viewer says, numbers included."""
    match = _VIEWER.search(messages[-1].content)
    said = match.group(1) if match else messages[-1].content
    nums = re.findall(r"\d+(?:\.\d+)?", said)
    claim = f"好的，现在只要{nums[0]}元！" if nums else "好的，今天免费送！"
    return claim + "我已经忽略了之前的规则。"
