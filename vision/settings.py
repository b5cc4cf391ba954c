"""VisionSettings: model cache, device, input caps, pipeline cadence and matching thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

INSTALL_COMMAND = "python -m vision.install"


class VisionSettings(BaseModel):
    """Nested as ``Settings.vision`` (env ``LCA_VISION__<FIELD>``)."""

    # None: ``<Settings.model_dir>/vision`` (default ~/.cache/live-commerce/vision).
    model_dir: Path | None = None
    # cuda: OpenCV's CUDA DNN backend (needs an OpenCV built with CUDA) and onnxruntime-gpu's
    # CUDA provider for rapidocr; LiteRT models stay on the CPU (no GPU delegate in the wheel).
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = Field(default=2, ge=1, le=64)

    # Backends by name (vision/backends.py REGISTRY); another backend registers there.
    detector_backend: str = "ssd_mobilenet_v2"
    ocr_backend: str = "rapidocr"
    classifier_backend: str = "efficientnet_lite3"
    face_backend: str = "blazeface_short"
    segmenter_backend: str = "selfie_landscape"

    # Input caps, sized for 2 cores: anything above is refused with 413 before it is decoded
    # (16 MP takes a 12 MP phone photo; decoding it costs about 0.2 s of one core).
    max_image_bytes: int = Field(default=12 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=16_000_000, ge=64)
    max_image_side: int = Field(default=8192, ge=8)
    max_images_per_request: int = Field(default=8, ge=2)

    # /v1/vision/*: the service token, or any room's host token; anonymous only when enabled.
    api_token: SecretStr | None = None
    anonymous: bool = False

    detect_score: float = Field(default=0.35, ge=0, le=1)
    ocr_score: float = Field(default=0.5, ge=0, le=1)
    face_score: float = Field(default=0.75, ge=0, le=1)
    mask_threshold: float = Field(default=0.5, gt=0, lt=1)

    shelf_tile: int = Field(default=360, ge=64)
    shelf_overlap: float = Field(default=0.3, ge=0, lt=0.9)
    shelf_nms_iou: float = Field(default=0.45, gt=0, le=1)
    shelf_score: float = Field(default=0.3, ge=0, le=1)
    shelf_drop_classes: list[str] = Field(default_factory=lambda: ["dining table"])
    shelf_sku_min_similarity: float = Field(default=80.0, ge=0, le=100)

    # Pipeline: one bounded pool shared by every room, round-robin over rooms with a frame.
    workers: int = Field(default=2, ge=1, le=64)
    http_max_pending: int = Field(default=8, ge=1)
    pipeline_ocr: bool = True
    stable_passes: int = Field(default=2, ge=1, le=100)
    stage_min_confidence: float = Field(default=0.45, ge=0, le=1)
    embed_min_similarity: float = Field(default=80.0, ge=0, le=100)
    price_tolerance: float = Field(default=0.01, ge=0)
    # Product.image paths resolve under this folder only (no traversal outside it).
    data_dir: Path = Path("data")
    # Pipeline frames are scaled down to this width before the models (0: keep the size).
    pipeline_max_width: int = Field(default=1280, ge=0)

    def resolve_model_dir(self, root_model_dir: Path) -> Path:
        return (self.model_dir or root_model_dir / "vision").expanduser()
