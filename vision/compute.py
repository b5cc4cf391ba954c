"""The PAI model computations on decoded images; synchronous, run in the worker pool."""

from __future__ import annotations

from typing import Any

import numpy as np

from vision.backends import Models
from vision.classify import similarity
from vision.image import RGB
from vision.segment import rle_encode
from vision.shelf import SkuRef, count_objects, match_skus
from vision.types import Detections, OcrLine

Body = dict[str, Any]


def _r(v: float) -> float:
    return round(float(v), 4)


def detection_body(found: Detections) -> Body:
    return {
        "detection_boxes": [[_r(v) for v in box] for box in found.boxes.tolist()],
        "detection_scores": [_r(s) for s in found.scores.tolist()],
        "detection_classes": list(found.classes),
        "detection_class_names": list(found.names),
    }


def classification(models: Models, image: RGB) -> Body:
    res = models.classifier.classify(image)
    best = int(np.argmax(res.probs))
    return {
        "class": best,
        "class_name": res.labels[best],
        "class_probs": {name: float(p) for name, p in zip(res.labels, res.probs, strict=True)},
    }


def scene(models: Models, image: RGB) -> Body:
    res = models.classifier.classify(image)
    top = res.top(5)
    found = models.detector.detect(image, models.settings.detect_score)
    return {
        "class": [i for i, _, _ in top],
        "class_name": [n for _, n, _ in top],
        "class_probs": {name: float(p) for name, p in zip(res.labels, res.probs, strict=True)},
        "scene_objects": found.counts(),
    }


def detection(models: Models, image: RGB) -> Body:
    return detection_body(models.detector.detect(image, models.settings.detect_score))


def ocr_body(lines: list[OcrLine]) -> Body:
    width = max((len(line.text) for line in lines), default=0)
    return {
        "detection_boxes": [[_r(v) for v in line.box] for line in lines],
        "detection_scores": [_r(line.score) for line in lines],
        "detection_classes": [1] * len(lines),
        "detection_class_names": ["text"] * len(lines),
        "detection_keypoints": [[[_r(y), _r(x)] for y, x in line.corners] for line in lines],
        "detection_texts_ids": [
            [ord(c) for c in line.text] + [0] * (width - len(line.text)) for line in lines
        ],
        "detection_texts": [line.text for line in lines],
        "detection_texts_scores": [_r(line.score) for line in lines],
    }


def ocr(models: Models, image: RGB) -> Body:
    return ocr_body(models.ocr.read(image, models.settings.ocr_score))


def shelf_count(models: Models, image: RGB, products: list[tuple[str, RGB]]) -> Body:
    s = models.settings
    found = count_objects(
        models.detector,
        image,
        tile=s.shelf_tile,
        overlap=s.shelf_overlap,
        min_score=s.shelf_score,
        iou=s.shelf_nms_iou,
        drop=s.shelf_drop_classes,
    )
    body = detection_body(found) | {"product_count": found.counts()}
    if products:
        refs = [SkuRef(sku, models.classifier.classify(img).embedding) for sku, img in products]
        skus = match_skus(models.classifier, image, found, refs, s.shelf_sku_min_similarity)
        counts: dict[str, int] = {}
        for sku in skus:
            if sku is not None:
                counts[sku] = counts.get(sku, 0) + 1
        body |= {"detection_skus": skus, "sku_count": counts}
    return body


def person_present(models: Models, image: RGB) -> bool:
    """The gate for person masks: a face or a person box (the segmenter fires on cats, cups)."""
    s = models.settings
    if models.face.faces(image, s.face_score):
        return True
    return "person" in models.detector.detect(image, s.detect_score).names


def foreground(models: Models, image: RGB) -> Body:
    if person_present(models, image):
        mask = models.segmenter.person_prob(image) >= models.settings.mask_threshold
    else:
        mask = np.zeros(image.shape[:2], dtype=bool)
    return {"human_ratio": f"{float(mask.mean()):.4f}", "mask": rle_encode(mask)}


def similar(models: Models, a: RGB, b: RGB) -> Body:
    score, dist = similarity(
        models.classifier.classify(a).embedding, models.classifier.classify(b).embedding
    )
    return {"similarity": score, "l2_distance": dist}
