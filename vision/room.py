"""One room's vision state: the frame pass, stage debounce, host pin and catalog."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from assistant.catalog import Product
from assistant.events import (
    Detection,
    Frame,
    PriceMismatch,
    StageChanged,
    StageInfo,
    VisionUpdate,
)
from vision.backends import Models
from vision.classify import F32
from vision.image import RGB, decode_image
from vision.matcher import Candidate, CatalogMatcher
from vision.types import Detections

_NOT_PRODUCTS = frozenset({"person", "dining table", "chair", "couch", "bed", "tv"})


@dataclass
class PassResult:
    width: int
    height: int
    found: Detections
    lines: list[str]
    candidate: Candidate
    latency_ms: float


def run_pass(models: Models, matcher: CatalogMatcher | None, data: bytes) -> PassResult:
    """Decode, detect, read, match: everything heavy for one frame (runs in the pool)."""
    start = time.perf_counter()
    s = models.settings
    image: RGB = decode_image(data, s)
    h, w = image.shape[:2]
    if s.pipeline_max_width and w > s.pipeline_max_width:
        import cv2

        scale = s.pipeline_max_width / w
        image = np.ascontiguousarray(
            cv2.resize(
                image, (s.pipeline_max_width, round(h * scale)), interpolation=cv2.INTER_AREA
            )
        )
    else:
        scale = 1.0
    found = models.detector.detect(image, s.detect_score)
    found.boxes = found.boxes / np.float32(scale)
    lines = [line.text for line in models.ocr.read(image, s.ocr_score)] if s.pipeline_ocr else []
    embeddings: list[F32] = []
    if matcher is not None and matcher.has_images:
        crops = [image]
        for (top, left, bottom, right), name in zip(
            (found.boxes * scale).astype(int), found.names, strict=True
        ):
            if name not in _NOT_PRODUCTS and bottom - top > 8 and right - left > 8:
                crops.append(np.ascontiguousarray(image[top:bottom, left:right]))
        embeddings = [models.classifier.classify(c).embedding for c in crops[:4]]
    candidate = matcher.match(lines, embeddings) if matcher else Candidate(None, 0.0)
    return PassResult(w, h, found, lines, candidate, (time.perf_counter() - start) * 1000)


@dataclass
class RoomState:
    room_id: str
    stable_passes: int
    matcher: CatalogMatcher | None = None
    products: list[Product] = field(default_factory=list)
    pending: Frame | None = None
    busy: bool = False
    pinned: str | None = None
    pin_active: bool = False
    stage: str | None = None
    stage_conf: float = 0.0
    _streak_sku: str | None = None
    _streak: int = 0

    def follow(self, stage: StageChanged) -> None:
        """The core's stage owner says what is on stage; a host pin overrides what vision sees."""
        pinned = stage.sku if stage.source == "pin" else None
        self.pinned, self.pin_active = pinned, pinned is not None

    def update(self, frame: Frame, res: PassResult) -> VisionUpdate:
        cand = res.candidate
        if cand.sku == self._streak_sku:
            self._streak += 1
        else:
            self._streak_sku, self._streak = cand.sku, 1
        previous = self.stage
        if self._streak >= self.stable_passes:
            self.stage = cand.sku
            self.stage_conf = cand.confidence if cand.sku else 0.0
        if self.pin_active:
            stage = StageInfo(sku=self.pinned, confidence=1.0, pinned=True)
        else:
            stage = StageInfo(sku=self.stage, confidence=round(self.stage_conf, 4))
        new_product = not self.pin_active and self.stage is not None and self.stage != previous
        mismatch = None
        if stage.sku and self.matcher is not None:
            found = self.matcher.price_mismatch(stage.sku, res.lines)
            if found is not None:
                mismatch = PriceMismatch(
                    sku=stage.sku, screen_price=found[0], catalog_price=found[1]
                )
        return VisionUpdate(
            room_id=self.room_id,
            frame_id=frame.id,
            width=res.width,
            height=res.height,
            detections=[
                Detection(box=(b[0], b[1], b[2], b[3]), score=round(float(sc), 4), class_name=n)
                for b, sc, n in zip(
                    res.found.boxes.tolist(), res.found.scores, res.found.names, strict=True
                )
            ],
            counts=res.found.counts(),
            ocr_lines=res.lines,
            stage=stage,
            new_product=new_product,
            price_mismatch=mismatch,
            latency_ms=round(res.latency_ms, 2),
        )
