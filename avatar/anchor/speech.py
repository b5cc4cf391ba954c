"""Clause-sized speech: where the anchor may yield, audio made ahead, and answers' share of air."""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict, deque
from typing import TYPE_CHECKING

from avatar.text import join_pieces, merge_short, split_clauses

if TYPE_CHECKING:
    from avatar.audio import PcmChunk
    from avatar.tts import TTS

# Clauses shorter than this are said with the next one: "大家看，" alone sounds clipped.
MIN_CLAUSE_CHARS = 6


def clauses(text: str) -> list[str]:
    """The points where the anchor may stop a sentence to answer someone; never mid-word."""
    return merge_short(split_clauses(text) or [text], MIN_CLAUSE_CHARS)


def join_clauses(pieces: list[str]) -> str:
    return functools.reduce(join_pieces, pieces)


class AudioAhead:
    """Clauses synthesised before they are needed (an answer's first clause, the next clause).

    Bounded: past ``size`` entries the oldest is cancelled, so a backlog of answers that are
    never spoken cannot hold audio without limit.
    """

    def __init__(self, tts: TTS, size: int) -> None:
        self.tts, self.size = tts, size
        self._jobs: OrderedDict[tuple[str, str], asyncio.Task[list[PcmChunk]]] = OrderedDict()

    def start(self, key: str, text: str) -> None:
        if (key, text) in self._jobs:
            return
        self._jobs[(key, text)] = asyncio.create_task(self._collect(text), name=f"tts-{key}")
        while len(self._jobs) > self.size:
            _drop(self._jobs.popitem(last=False)[1])

    def take(self, key: str, text: str) -> asyncio.Task[list[PcmChunk]] | None:
        return self._jobs.pop((key, text), None)

    async def _collect(self, text: str) -> list[PcmChunk]:
        return [chunk async for chunk in self.tts.synthesize(text)]

    def close(self) -> None:
        for job in self._jobs.values():
            _drop(job)
        self._jobs.clear()


def _drop(job: asyncio.Task[list[PcmChunk]]) -> None:
    """Cancel audio nobody will play; a failure it already had is read, so it is not reported
    later as an exception never retrieved (the utterance it was for is skipped by then)."""
    if job.done() and not job.cancelled():
        job.exception()
    job.cancel()


class AirTime:
    """Seconds of speech per kind over a sliding window: answers may not crowd out selling."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._spans: deque[tuple[float, bool, float]] = deque()  # (start, is_answer, seconds)

    def add(self, start: float, is_answer: bool, seconds: float) -> None:
        self._spans.append((start, is_answer, seconds))

    def answer_share(self, now: float) -> float:
        while self._spans and self._spans[0][0] < now - self.window_s:
            self._spans.popleft()
        total = sum(s for _, _, s in self._spans)
        answers = sum(s for _, a, s in self._spans if a)
        return answers / total if total else 0.0
