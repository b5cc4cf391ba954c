"""Plain result types shared by the model backends, the HTTP API and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]


@dataclass
class Detections:
    """Boxes are [top, left, bottom, right] in pixels, as the PAI contract has them."""

    boxes: F32 = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: F32 = field(default_factory=lambda: np.zeros((0,), np.float32))
    classes: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.classes)

    def take(self, keep: list[int]) -> Detections:
        return Detections(
            self.boxes[keep].reshape(-1, 4),
            self.scores[keep].reshape(-1),
            [self.classes[i] for i in keep],
            [self.names[i] for i in keep],
        )

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in self.names:
            out[name] = out.get(name, 0) + 1
        return out


@dataclass
class OcrLine:
    text: str
    score: float
    corners: list[tuple[float, float]]  # four (y, x) points, clockwise from top-left
    box: tuple[float, float, float, float]  # [top, left, bottom, right]


@dataclass
class Face:
    box: tuple[float, float, float, float]  # [top, left, bottom, right] pixels
    score: float
    keypoints: list[tuple[float, float]]  # six (y, x): eyes, nose, mouth, ears


def nms(boxes: F32, scores: F32, iou: float) -> list[int]:
    """Greedy non-maximum suppression over [top, left, bottom, right] boxes."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    while order:
        i = int(order.pop(0))
        keep.append(i)
        if not order:
            break
        rest = np.array(order)
        top = np.maximum(boxes[i, 0], boxes[rest, 0])
        left = np.maximum(boxes[i, 1], boxes[rest, 1])
        bottom = np.minimum(boxes[i, 2], boxes[rest, 2])
        right = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (bottom - top).clip(0) * (right - left).clip(0)
        # IoU, plus "mostly inside": a tile's partial box inside a full box is the same object.
        union = areas[i] + areas[rest] - inter
        small = np.minimum(areas[i], areas[rest])
        overlap = np.maximum(inter / np.maximum(union, 1e-6), inter / np.maximum(small, 1e-6) * 0.8)
        order = [int(j) for j, o in zip(rest, overlap, strict=True) if o <= iou]
    return keep
