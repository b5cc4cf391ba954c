"""Coqui TTS for users who bring their own model directory (e.g. XTTS v2 on a GPU).

No Coqui model can be installed offline here: none is on PyPI. This backend never downloads one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from avatar.audio import Floats
from avatar.errors import BackendMissing
from avatar.text import split_sentences

if TYPE_CHECKING:
    from avatar.settings import AvatarSettings

_HINT = (
    "set avatar.coqui_model_dir (LCA_AVATAR__COQUI_MODEL_DIR) to a directory holding a Coqui "
    "model and its config.json, and pip install coqui-tts (with the pinned torch==2.13.0)"
)


def check(settings: AvatarSettings) -> int:
    directory = settings.coqui_model_dir
    if directory is None or not (directory / "config.json").is_file():
        raise BackendMissing(f"coqui backend: model directory {directory} missing; {_HINT}")
    if importlib.util.find_spec("TTS") is None:
        raise BackendMissing(f"coqui backend: the TTS package is not installed; {_HINT}")
    import json

    config = json.loads((directory / "config.json").read_text())
    audio = config.get("audio", {})
    rate = audio.get("output_sample_rate") or audio.get("sample_rate") or 24_000
    return int(rate)


class CoquiEngine:
    def __init__(self, settings: AvatarSettings) -> None:
        from TTS.api import TTS as CoquiTTS  # type: ignore[import-not-found,unused-ignore]

        self.sample_rate = check(settings)
        directory = settings.coqui_model_dir
        assert directory is not None
        config = str(directory / "config.json")
        self._tts: Any = CoquiTTS(model_path=str(directory), config_path=config)
        self._language = settings.coqui_language
        self._speaker = str(settings.coqui_speaker_wav) if settings.coqui_speaker_wav else None

    def stream(self, text: str) -> Iterator[Floats]:
        for sentence in split_sentences(text):
            kwargs: dict[str, Any] = {}
            if self._tts.is_multi_lingual:
                kwargs["language"] = self._language
            if self._speaker is not None:
                kwargs["speaker_wav"] = self._speaker
            yield np.asarray(self._tts.tts(text=sentence, **kwargs), dtype=np.float32)
