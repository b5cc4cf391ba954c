"""Clause-by-clause LLM streaming through the fact guard and the compliance gate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from assistant.brain.answers.guard import check, numbers
from assistant.brain.llm.base import LLM, LLMTimeout, Message
from assistant.compliance import Change, ComplianceGate
from assistant.errors import AssistantError

_ENDS = set("。！？；，!?;\n")


class FactMismatch(AssistantError):
    """The LLM stated a number or claim the catalog does not back."""

    code = "fact_mismatch"

    def __init__(self, bad: list[str], text: str) -> None:
        super().__init__(f"unbacked {bad} in {text[:80]!r}")
        self.bad = bad


def _split(buf: str) -> tuple[list[str], str]:
    out: list[str] = []
    start = 0
    for i, ch in enumerate(buf):
        is_end = ch in _ENDS or (ch == "." and i + 1 < len(buf) and buf[i + 1] == " ")
        if is_end:
            out.append(buf[start : i + 1])
            start = i + 1
    return out, buf[start:]


async def timed(
    stream: AsyncIterator[str], first_timeout: float, total_timeout: float
) -> AsyncIterator[str]:
    """Raise LLMTimeout when the first piece or the whole stream takes too long."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_timeout
    first = True
    it = aiter(stream)
    try:
        while True:
            budget = deadline - loop.time()
            if first:
                budget = min(budget, first_timeout)
            try:
                async with asyncio.timeout(max(budget, 0.001)):
                    piece = await anext(it)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise LLMTimeout("LLM took too long") from exc
            first = False
            yield piece
    finally:
        closer = getattr(it, "aclose", None)
        if closer is not None:
            await closer()


@dataclass
class ClauseGuard:
    """What each streamed clause is checked against: the text its numbers must come from
    (``source``, plus ``allowed_extra``), the prices it may state, and the compliance gate;
    ``changes`` records every rewrite the gate made."""

    source: str
    gate: ComplianceGate
    category: str | None
    allowed_extra: set[str] = field(default_factory=set)
    allowed_prices: set[str] | None = None
    changes: list[Change] = field(default_factory=list)

    def vet(self, clause: str) -> str:
        result = check(
            clause,
            self.source,
            allowed_extra=self.allowed_extra,
            allowed_prices=self.allowed_prices,
        )
        if not result.ok:
            raise FactMismatch(result.bad, clause)
        rewritten = self.gate.rewrite(clause, category=self.category)
        self.changes.extend(rewritten.changes)
        return rewritten.text


@dataclass(frozen=True)
class Budget:
    """How much one model call may take: tokens, and seconds to its first and its last."""

    max_tokens: int
    room_id: str
    first_timeout: float
    total_timeout: float
    temperature: float | None = None


async def guarded_clauses(
    llm: LLM, messages: list[Message], guard: ClauseGuard, budget: Budget
) -> AsyncIterator[str]:
    """Yield compliant, fact-checked clauses; raise FactMismatch on the first unbacked one."""
    raw = llm.stream(
        messages,
        max_tokens=budget.max_tokens,
        room_id=budget.room_id,
        temperature=budget.temperature,
    )
    buf = ""
    async for piece in timed(raw, budget.first_timeout, budget.total_timeout):
        buf += piece
        clauses, buf = _split(buf)
        for clause in clauses:
            text = guard.vet(clause)
            if text.strip():
                yield text
    if buf.strip():
        text = guard.vet(buf)
        if text.strip():
            yield text


__all__ = ["Budget", "ClauseGuard", "FactMismatch", "guarded_clauses", "numbers", "timed"]
