"""espeak-ng fallback (Debian package): English only, LOW QUALITY, no model files needed."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from avatar.audio import Floats, to_float
from avatar.errors import BackendMissing, SynthesisFailed
from avatar.normalize import normalize_en

if TYPE_CHECKING:
    from avatar.settings import AvatarSettings

RATE = 22_050


def check(settings: AvatarSettings) -> int:
    if shutil.which("espeak-ng") is None:
        raise BackendMissing("espeak backend: apt-get install -y espeak-ng")
    return RATE


class EspeakEngine:
    """Robotic but always available; its Chinese voice is unintelligible, so English only."""

    sample_rate = RATE

    def __init__(self, settings: AvatarSettings) -> None:
        self._voice = settings.espeak_voice

    def stream(self, text: str) -> Iterator[Floats]:
        proc = subprocess.run(
            ["espeak-ng", "--stdout", "-v", self._voice, "--", normalize_en(text)],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise SynthesisFailed(f"espeak-ng exited {proc.returncode}: {proc.stderr[-200:]!r}")
        with wave.open(io.BytesIO(proc.stdout)) as wav:
            rate = wav.getframerate()
            audio = to_float(wav.readframes(wav.getnframes()))
        if rate != RATE:
            from avatar.audio import resample

            audio = resample(audio, rate, RATE)
        yield np.asarray(audio, dtype=np.float32)
