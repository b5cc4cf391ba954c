"""ThreadedTTS: engines run off the loop; a failing or hung utterance never stalls the queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from avatar.audio import Floats
from avatar.errors import SynthesisFailed
from avatar.tts.base import ThreadedTTS

RATE = 8_000


class ToyEngine:
    """A blocking engine: 'boom' raises, 'hang' blocks until released, else 0.1 s per char."""

    sample_rate = RATE
    release = threading.Event()

    def stream(self, text: str) -> Iterator[Floats]:
        if "boom" in text:
            raise RuntimeError("engine crashed")
        if "hang" in text:
            self.release.wait(10)
        for _ in text:
            time.sleep(0.001)
            yield np.full(RATE // 10, 0.25, dtype=np.float32)


async def say(tts: ThreadedTTS, text: str) -> bytes:
    return b"".join([c.data async for c in tts.synthesize(text)])


async def test_failures_skip_one_utterance_only() -> None:
    tts = ThreadedTTS("toy", ToyEngine, RATE, workers=1, queue_size=2, timeout=0.5)
    try:
        assert len(await say(tts, "abc")) == 3 * (RATE // 10) * 2
        with pytest.raises(SynthesisFailed, match="engine crashed"):
            await say(tts, "boom")
        with pytest.raises(SynthesisFailed, match="no audio within"):
            await say(tts, "hang")
        began = time.perf_counter()
        assert len(await say(tts, "ok")) == 2 * (RATE // 10) * 2  # a fresh thread takes over
        assert time.perf_counter() - began < 2.0
    finally:
        ToyEngine.release.set()
        await tts.close()


async def test_runs_off_the_event_loop() -> None:
    seen: list[str] = []

    class Recorder(ToyEngine):
        def stream(self, text: str) -> Iterator[Floats]:
            seen.append(threading.current_thread().name)
            yield from super().stream(text)

    tts = ThreadedTTS("toy", Recorder, RATE, workers=2)
    try:
        await say(tts, "x")
        assert seen and all(name.startswith("tts-toy") for name in seen)
    finally:
        await tts.close()
