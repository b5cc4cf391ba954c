"""Shelf counting: the detector on overlapping tiles, NMS, shelf filtering, optional SKU match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.classify import Classifier, similarity
from vision.detect import Detector
from vision.image import RGB
from vision.types import F32, Detections, nms


def tiles(h: int, w: int, size: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Tile origins and sizes (y, x, th, tw) covering the frame with the given overlap."""
    step = max(1, int(size * (1 - overlap)))

    def starts(n: int) -> list[int]:
        if n <= size:
            return [0]
        out = list(range(0, n - size, step))
        return [*out, n - size]

    return [(y, x, min(size, h), min(size, w)) for y in starts(h) for x in starts(w)]


def count_objects(
    detector: Detector,
    image: RGB,
    *,
    tile: int,
    overlap: float,
    min_score: float,
    iou: float,
    drop: Sequence[str],
) -> Detections:
    h, w = image.shape[:2]
    boxes: list[F32] = []
    scores: list[F32] = []
    classes: list[int] = []
    names: list[str] = []
    views = [(0, 0, h, w)] + (tiles(h, w, tile, overlap) if max(h, w) > tile else [])
    for y, x, th, tw in views:
        found = detector.detect(np.ascontiguousarray(image[y : y + th, x : x + tw]), min_score)
        keep = [i for i, name in enumerate(found.names) if name not in drop]
        found = found.take(keep)
        if not len(found):
            continue
        boxes.append(found.boxes + np.array([y, x, y, x], np.float32))
        scores.append(found.scores)
        classes += found.classes
        names += found.names
    if not classes:
        return Detections()
    merged = Detections(np.concatenate(boxes), np.concatenate(scores), classes, names)
    # Class-agnostic: on a shelf one place holds one product (a cup and its saucer "bowl",
    # a tile's partial box inside the whole-frame box), so overlapping boxes are one object.
    keep = nms(merged.boxes, merged.scores, iou)
    return merged.take(sorted(keep, key=lambda i: -float(merged.scores[i])))


@dataclass
class SkuRef:
    sku: str
    embedding: F32


def match_skus(
    classifier: Classifier,
    image: RGB,
    found: Detections,
    refs: Sequence[SkuRef],
    min_similarity: float,
) -> list[str | None]:
    """For each box, the catalog SKU whose product image embedding is closest (or None)."""
    out: list[str | None] = []
    if not refs:
        return [None] * len(found)
    for top, left, bottom, right in found.boxes.astype(int):
        crop = image[max(top, 0) : max(bottom, top + 1), max(left, 0) : max(right, left + 1)]
        if crop.size == 0:
            out.append(None)
            continue
        emb = classifier.classify(np.ascontiguousarray(crop)).embedding
        best = max(refs, key=lambda r: similarity(emb, r.embedding)[0])
        out.append(best.sku if similarity(emb, best.embedding)[0] >= min_similarity else None)
    return out
