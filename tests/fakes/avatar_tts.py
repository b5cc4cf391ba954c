"""Fake TTS for anchor-loop tests: audio length follows the text, failures on demand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from avatar.audio import PcmChunk, to_pcm16
from avatar.errors import SynthesisFailed
from tests.fakes.avatar_clock import VirtualClock


class FakeTTS:
    """Silent PCM at a low rate: ``seconds_per_char`` of audio per character, in 2 s chunks."""

    name = "fake"

    def __init__(
        self,
        *,
        sample_rate: int = 1_000,
        seconds_per_char: float = 0.2,
        latency: float = 0.05,
        fail_marker: str = "💥",
        hang_marker: str = "⏳",
    ) -> None:
        self.sample_rate = sample_rate
        self.seconds_per_char = seconds_per_char
        self.latency = latency
        self.fail_marker = fail_marker
        self.hang_marker = hang_marker
        self.calls = 0
        self.closed = False
        self.warmed = 0

    def seconds(self, text: str) -> float:
        return max(0.5, len(text) * self.seconds_per_char)

    async def synthesize(self, text: str) -> AsyncIterator[PcmChunk]:
        self.calls += 1
        await asyncio.sleep(self.latency)
        if self.fail_marker in text:
            raise SynthesisFailed(f"fake backend cannot say {text[:10]!r}")
        if self.hang_marker in text:
            await asyncio.sleep(3600)
            raise SynthesisFailed("fake backend hung")
        remaining = round(self.seconds(text) * self.sample_rate)
        step = 2 * self.sample_rate
        while remaining > 0:
            n = min(step, remaining)
            remaining -= n
            yield PcmChunk(bytes(2 * n), self.sample_rate, text)

    async def warmup(self, text: str = "你好") -> None:
        self.warmed += 1

    async def close(self) -> None:
        self.closed = True


class SampledRealTTS(FakeTTS):
    """Every ``every``-th utterance is synthesized by a real engine, inline, and the virtual clock
    is advanced by the real time that took; the rest use the fake."""

    def __init__(self, engine: Any, clock: VirtualClock, every: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.engine = engine
        self.clock = clock
        self.every = every
        self.real: list[tuple[str, float, float]] = []  # text, peak level, seconds of audio

    async def synthesize(self, text: str) -> AsyncIterator[PcmChunk]:
        if (self.calls + 1) % self.every:
            async for chunk in super().synthesize(text):
                yield chunk
            return
        self.calls += 1
        began = time.perf_counter()
        peak, seconds = 0.0, 0.0
        for piece in self.engine.stream(text):
            self.clock.advance(time.perf_counter() - began)
            if piece.size:
                peak = max(peak, float(abs(piece).max()))
                seconds += piece.size / self.engine.sample_rate
            yield PcmChunk(to_pcm16(piece), self.engine.sample_rate, text)
            began = time.perf_counter()
        self.real.append((text, peak, seconds))
