"""Backends by name (settings pick them), loaded lazily once and shared by HTTP and pipeline."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

from vision.classify import Classifier
from vision.detect import Detector
from vision.errors import ModelMissing
from vision.face import FaceDetector
from vision.ocr import OcrEngine
from vision.segment import Segmenter
from vision.settings import VisionSettings

# kind -> name -> (module:class, pip requirement that provides the runtime)
REGISTRY: dict[str, dict[str, tuple[str, str]]] = {
    "detector": {
        "ssd_mobilenet_v2": ("vision.detect:SsdMobileNetDetector", "opencv-python-headless")
    },
    "ocr": {"rapidocr": ("vision.ocr:RapidOcr", "rapidocr==3.10.0 onnxruntime")},
    "classifier": {
        "efficientnet_lite3": ("vision.classify:EfficientNetLite3", "ai-edge-litert==2.3.0")
    },
    "face": {"blazeface_short": ("vision.face:BlazeFaceShortRange", "ai-edge-litert==2.3.0")},
    "segmenter": {
        "selfie_landscape": ("vision.segment:SelfieSegmentation", "ai-edge-litert==2.3.0")
    },
}


def _load(kind: str, name: str, **kwargs: Any) -> Any:
    if name not in REGISTRY[kind]:
        raise ModelMissing(f"unknown {kind} backend {name!r}; known: {sorted(REGISTRY[kind])}")
    target, requirement = REGISTRY[kind][name]
    module_name, cls_name = target.split(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
        return cls(**kwargs)
    except ImportError as exc:
        raise ModelMissing(
            f"{kind} backend {name!r} needs the vision extra: pip install {requirement} ({exc})"
        ) from exc


class Models:
    """Lazily built model backends; each backend serializes its own calls with a lock."""

    def __init__(self, settings: VisionSettings, model_dir: Path) -> None:
        self.settings = settings
        self.model_dir = model_dir
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    def _get(self, kind: str, **kwargs: Any) -> Any:
        with self._lock:
            if kind not in self._cache:
                name = getattr(self.settings, f"{kind}_backend")
                self._cache[kind] = _load(kind, name, **kwargs)
            return self._cache[kind]

    @property
    def detector(self) -> Detector:
        out: Detector = self._get("detector", model_dir=self.model_dir, device=self.settings.device)
        return out

    @property
    def ocr(self) -> OcrEngine:
        out: OcrEngine = self._get(
            "ocr", device=self.settings.device, threads=self.settings.threads
        )
        return out

    @property
    def classifier(self) -> Classifier:
        out: Classifier = self._get(
            "classifier", model_dir=self.model_dir, threads=self.settings.threads
        )
        return out

    @property
    def face(self) -> FaceDetector:
        out: FaceDetector = self._get("face", model_dir=self.model_dir)
        return out

    @property
    def segmenter(self) -> Segmenter:
        out: Segmenter = self._get("segmenter", model_dir=self.model_dir)
        return out
