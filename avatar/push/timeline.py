"""The push's audio timeline: chunks placed on the wall clock, silence wherever none plays."""

from __future__ import annotations

import numpy as np
from av import AudioFrame
from av.audio.resampler import AudioResampler
from numpy.typing import NDArray

# A chunk that lands this close after the end of what is queued continues it: the anchor
# meant it to (its playout clock puts chunk n + 1 where chunk n ends), and the difference is
# only how late each one reached us.
SNAP_S = 0.08
# Queued audio is bounded; a chunk placed further ahead of the clock than this is dropped.
MAX_AHEAD_S = 60.0


class AudioTimeline:
    """PCM16 mono at ``rate`` on a clock whose sample 0 is at ``origin`` (``time.monotonic``).

    A chunk goes where the room's playout clock puts it, but never before the end of what is
    already queued or read. Reading always returns the samples asked for: silence fills what
    no chunk covers, so the stream is continuous whatever the anchor does.
    """

    def __init__(self, rate: int, origin: float) -> None:
        self.rate = rate
        self.origin = origin
        self.read_at = 0  # the next sample read returns
        self.dropped_s = 0.0
        self._queued = bytearray()  # samples from read_at on
        self._resampler: AudioResampler | None = None
        self._resampling_from = 0

    def index(self, t: float) -> int:
        return round((t - self.origin) * self.rate)

    def time(self, index: int) -> float:
        return self.origin + index / self.rate

    @property
    def end(self) -> int:
        """The sample after the last one queued."""
        return self.read_at + len(self._queued) // 2

    def place(self, at: float, pcm: bytes, rate: int) -> int | None:
        """Queue a chunk meant to start at ``at``; returns the sample it starts at, or None when
        it was dropped (it ended before this timeline began, or lies too far ahead)."""
        duration = len(pcm) / 2 / rate
        if at + duration <= self.origin or at - self.time(self.read_at) > MAX_AHEAD_S:
            self.dropped_s += duration
            return None
        wanted = self.index(at)
        if wanted - self.end > SNAP_S * self.rate or rate != self._resampling_from:
            self._flush()  # a gap (or another rate): the resampler's tail ends the last chunk
            if wanted > self.end:
                self._queued += bytes(2 * (wanted - self.end))
        start = self.end
        self._queued += self._resample(pcm, rate)
        return start

    def read(self, count: int) -> NDArray[np.int16]:
        """The next ``count`` samples (int16), silence where nothing was queued."""
        if self._resampler is not None and self.end < self.read_at + count:
            self._flush()  # the utterance ended: its last samples are still in the filter
        size = min(2 * count, len(self._queued))
        out = np.zeros(count, dtype=np.int16)
        out[: size // 2] = np.frombuffer(self._queued, dtype="<i2", count=size // 2)
        del self._queued[:size]
        self.read_at += count
        return out

    def _resample(self, pcm: bytes, rate: int) -> bytes:
        if rate == self.rate:
            self._resampling_from = rate
            return pcm
        if self._resampler is None:
            self._resampler = AudioResampler(format="s16", layout="mono", rate=self.rate)
            self._resampling_from = rate
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        return _joined(self._resampler.resample(frame))

    def _flush(self) -> None:
        if self._resampler is not None:
            self._queued += _joined(self._resampler.resample(None))
        self._resampler = None
        self._resampling_from = 0


def _joined(frames: list[AudioFrame]) -> bytes:
    return b"".join(f.to_ndarray().astype("<i2", copy=False).tobytes() for f in frames)
