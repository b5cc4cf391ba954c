"""PAI ModelHub request and response bodies (field names and shapes from the PAI docs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ImageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, description="base64 of the image file")


class SkuImage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    image: str = Field(min_length=1, description="base64 of the product image")


class ShelfRequest(ImageRequest):
    """shelf_count; ``products`` (optional, our extension) turns on the per-SKU count."""

    products: list[SkuImage] = Field(default_factory=list, max_length=50)


class SimilarityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    imagea: str = Field(min_length=1)
    imageb: str = Field(min_length=1)


class UrlInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, description="a data: URL; remote URLs are refused")


class ForegroundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: UrlInput


class PaiResponse(BaseModel):
    """Every body: ``request_id`` and ``success``; ``error_code``/``error_msg`` on failure."""

    model_config = ConfigDict(populate_by_name=True)

    request_id: str
    success: bool
    error_code: int | None = None
    error_msg: str | None = None


class Classification(PaiResponse):
    class_: int = Field(alias="class")
    class_name: str
    class_probs: dict[str, float]


class Scene(PaiResponse):
    class_: list[int] = Field(alias="class")
    class_name: list[str]
    class_probs: dict[str, float]
    scene_objects: dict[str, int] = Field(
        default_factory=dict, description="extension: COCO objects the detector found"
    )


class DetectionOut(PaiResponse):
    detection_boxes: list[list[float]]  # [n, 4] as [top, left, bottom, right]
    detection_scores: list[float]
    detection_classes: list[int]
    detection_class_names: list[str]


class OcrOut(DetectionOut):
    detection_keypoints: list[list[list[float]]]  # [n, 4, 2] as (y, x)
    detection_texts_ids: list[list[int]]  # [n, max_len]: Unicode code points, 0-padded
    detection_texts: list[str]
    detection_texts_scores: list[float]


class ShelfOut(DetectionOut):
    product_count: dict[str, int]
    detection_skus: list[str | None] | None = None  # extension, with ``products``
    sku_count: dict[str, int] | None = None  # extension, with ``products``


class RleMask(BaseModel):
    counts: list[int]
    size: list[int]  # [h, w]


class ForegroundOut(PaiResponse):
    human_ratio: str  # the PAI docs type it STRING
    mask: RleMask


class SimilarityOut(PaiResponse):
    similarity: float  # 100 = same image, under 80 = different images
    l2_distance: float


MODELS = (
    "classification",
    "detection",
    "ocr",
    "shelf_count",
    "foreground_segmentation",
    "scene",
    "similarity",
)
