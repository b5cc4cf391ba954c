"""PCM16 audio chunks, float conversion, resampling and crossfaded joins."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PcmChunk:
    """A piece of synthesized speech: PCM16 mono little-endian at ``sample_rate`` Hz."""

    data: bytes
    sample_rate: int
    text: str = ""

    @property
    def samples(self) -> int:
        return len(self.data) // 2

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    def floats(self) -> Floats:
        return to_float(self.data)


def to_pcm16(audio: Floats) -> bytes:
    clipped = np.clip(np.nan_to_num(audio), -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def to_float(data: bytes) -> Floats:
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0).astype(np.float32)


def resample(audio: Floats, src_rate: int, dst_rate: int) -> Floats:
    """Polyphase resampling (scipy); identity when the rates already match."""
    if src_rate == dst_rate or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # type: ignore[import-untyped,unused-ignore]

    g = gcd(src_rate, dst_rate)
    out = resample_poly(audio, dst_rate // g, src_rate // g)
    return np.asarray(out, dtype=np.float32)


def silence(seconds: float, rate: int) -> Floats:
    return np.zeros(max(0, round(seconds * rate)), dtype=np.float32)


class Crossfader:
    """Joins consecutive pieces with a short linear crossfade, streaming-safe.

    The last ``fade`` samples of each piece are held back until the next piece (or ``flush``).
    """

    def __init__(self, rate: int, fade_ms: float) -> None:
        self.fade = max(0, round(rate * fade_ms / 1000.0))
        self._tail: Floats = np.zeros(0, dtype=np.float32)

    def push(self, piece: Floats) -> Floats:
        piece = piece.astype(np.float32, copy=False)
        if self.fade == 0:
            return piece
        n = min(self.fade, self._tail.size, piece.size)
        if n:
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            mixed = self._tail[-n:] * (1.0 - ramp) + piece[:n] * ramp
            head = np.concatenate([self._tail[:-n], mixed, piece[n:]])
        else:
            head = np.concatenate([self._tail, piece])
        keep = min(self.fade, head.size)
        head = np.asarray(head, dtype=np.float32)
        self._tail = head[head.size - keep :].copy()
        return head[: head.size - keep]

    def flush(self) -> Floats:
        tail, self._tail = self._tail, np.zeros(0, dtype=np.float32)
        return tail
