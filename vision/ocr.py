"""Chinese + English OCR: rapidocr 3.10 with the PP-OCRv6 models bundled in its wheel."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import numpy as np

from vision.image import RGB
from vision.types import OcrLine


class OcrEngine(Protocol):
    def read(self, image: RGB, min_score: float) -> list[OcrLine]: ...


class RapidOcr:
    """One RapidOCR instance; device "cuda" asks onnxruntime(-gpu) for its CUDA provider."""

    def __init__(self, device: str = "cpu", threads: int = 2) -> None:
        from rapidocr import RapidOCR

        params: dict[str, Any] = {
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.use_cuda": device == "cuda",
        }
        self._engine = RapidOCR(params=params)
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._lock = threading.Lock()

    def providers(self) -> list[str]:
        """The onnxruntime providers the text detector really runs on (CUDA or CPU)."""
        det: Any = getattr(self._engine, "text_det", None)
        session: Any = getattr(getattr(det, "session", None), "session", None)
        return list(session.get_providers()) if session is not None else []

    def read(self, image: RGB, min_score: float) -> list[OcrLine]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])  # rapidocr takes OpenCV (BGR) arrays
        with self._lock:
            result: Any = self._engine(bgr)
        boxes, txts, scores = result.boxes, result.txts, result.scores
        if boxes is None or txts is None or scores is None:
            return []
        lines: list[OcrLine] = []
        for quad, text, score in zip(boxes, txts, scores, strict=True):
            if float(score) < min_score or not str(text).strip():
                continue
            pts = np.asarray(quad, dtype=np.float32).reshape(4, 2)  # (x, y), clockwise from TL
            corners = [(float(y), float(x)) for x, y in pts]
            box = (
                float(pts[:, 1].min()),
                float(pts[:, 0].min()),
                float(pts[:, 1].max()),
                float(pts[:, 0].max()),
            )
            lines.append(OcrLine(str(text), float(score), corners, box))
        return lines
