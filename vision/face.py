"""Face detection: MediaPipe BlazeFace short-range on LiteRT, with our own SSD anchor decoding."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from vision.files import model_path
from vision.image import RGB
from vision.types import Face, nms

F32 = NDArray[np.float32]
INPUT = 128


def blazeface_anchors() -> F32:
    """The 896 (cx, cy) anchors of face_detection_short_range, normalized to [0, 1].

    MediaPipe's SsdAnchorsCalculator options for this model: 4 layers, strides 8,16,16,16,
    aspect ratio 1 plus one interpolated scale (2 anchors per layer and cell), fixed anchor
    size, offset 0.5. Layers with the same stride share a grid: 16x16x2 + 8x8x6 = 896.
    """
    strides = [8, 16, 16, 16]
    out: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        same = 0
        while layer + same < len(strides) and strides[layer + same] == strides[layer]:
            same += 1
        cells = INPUT // strides[layer]
        per_cell = 2 * same
        for y in range(cells):
            for x in range(cells):
                out.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
        layer += same
    return np.array(out, dtype=np.float32)


def decode_faces(
    regressors: F32, scores: F32, anchors: F32, min_score: float
) -> list[tuple[float, tuple[float, float, float, float], list[tuple[float, float]]]]:
    """Decode raw model outputs to (score, [top,left,bottom,right], keypoints) in [0,1] coords.

    regressors: [896, 16] as (dx, dy, w, h, kx0, ky0, ..., kx5, ky5) in 128-pixel units around
    each anchor; scores: [896] logits (clipped to +-100, then sigmoid).
    """
    logits = np.clip(scores.reshape(-1).astype(np.float64), -100.0, 100.0)
    probs = 1.0 / (1.0 + np.exp(-logits))
    found: list[tuple[float, tuple[float, float, float, float], list[tuple[float, float]]]] = []
    for i in np.nonzero(probs >= min_score)[0]:
        r = regressors[i] / INPUT
        cx, cy = r[0] + anchors[i, 0], r[1] + anchors[i, 1]
        w, h = r[2], r[3]
        box = (float(cy - h / 2), float(cx - w / 2), float(cy + h / 2), float(cx + w / 2))
        kps = [
            (float(r[5 + 2 * k] + anchors[i, 1]), float(r[4 + 2 * k] + anchors[i, 0]))
            for k in range(6)
        ]
        found.append((float(probs[i]), box, kps))
    return found


class FaceDetector(Protocol):
    def faces(self, image: RGB, min_score: float) -> list[Face]: ...


class BlazeFaceShortRange:
    """Letterboxes the frame to 128x128 in [-1, 1], decodes, suppresses overlaps."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]

        path = model_path(model_dir, "face_detection_short_range.tflite")
        self._it = Interpreter(model_path=str(path), num_threads=threads)
        self._it.allocate_tensors()
        self._in = int(self._it.get_input_details()[0]["index"])
        outs = {str(d["name"]): int(d["index"]) for d in self._it.get_output_details()}
        self._reg, self._cls = outs["regressors"], outs["classificators"]
        self._anchors = blazeface_anchors()
        self._lock = threading.Lock()

    def faces(self, image: RGB, min_score: float) -> list[Face]:
        import cv2

        h, w = image.shape[:2]
        scale = INPUT / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        pad_y, pad_x = (INPUT - nh) // 2, (INPUT - nw) // 2
        canvas = np.zeros((INPUT, INPUT, 3), np.float32)
        small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = small.astype(np.float32) / 127.5 - 1.0
        with self._lock:
            self._it.set_tensor(self._in, canvas[None])
            self._it.invoke()
            reg = np.array(self._it.get_tensor(self._reg)[0], dtype=np.float32)
            cls = np.array(self._it.get_tensor(self._cls)[0], dtype=np.float32)
        found = decode_faces(reg, cls, self._anchors, min_score)
        if not found:
            return []

        def to_px(y: float, x: float) -> tuple[float, float]:
            py = min(max((y * INPUT - pad_y) / scale, 0.0), float(h))
            px = min(max((x * INPUT - pad_x) / scale, 0.0), float(w))
            return py, px

        boxes = np.array(
            [[*to_px(b[0], b[1]), *to_px(b[2], b[3])] for _, b, _ in found], np.float32
        )
        scores = np.array([s for s, _, _ in found], np.float32)
        keep = nms(boxes, scores, 0.3)
        return [
            Face(
                tuple(float(v) for v in boxes[i]),  # type: ignore[arg-type]
                float(scores[i]),
                [to_px(y, x) for y, x in found[i][2]],
            )
            for i in keep
        ]
