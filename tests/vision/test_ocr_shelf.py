"""OCR on rendered Chinese/English price frames; shelf counting on a grid of real object crops."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.vision.conftest import Img, render_frame, sk
from vision import compute
from vision.backends import Models

pytestmark = pytest.mark.slow


def test_ocr_reads_chinese_and_english(models: Models) -> None:
    frame = render_frame(["保湿面霜 50ml", "限时价 ¥89.00", "Hydrating Cream"])
    body = compute.ocr(models, frame)
    texts = body["detection_texts"]
    joined = "".join(texts).replace(" ", "")
    assert "保湿面霜" in joined
    assert "89.00" in joined
    assert "Hydrating" in joined
    n = len(texts)
    assert len(body["detection_keypoints"]) == len(body["detection_boxes"]) == n
    for (top, left, bottom, right), corners in zip(
        body["detection_boxes"], body["detection_keypoints"], strict=True
    ):
        assert 0 <= top < bottom <= 720 and 0 <= left < right <= 1280
        for y, x in corners:  # keypoints are (y, x) and lie on the box
            assert top - 1 <= y <= bottom + 1 and left - 1 <= x <= right + 1


def shelf(rows: int, cols: int) -> Img:
    """A shelf: rows x cols copies of the real cup crop from skimage's coffee photo."""
    cup = Image.fromarray(sk("coffee")[0:260, 150:430]).resize((150, 140))
    canvas = Image.new("RGB", (1280, 720), (120, 90, 60))
    for r in range(rows):
        for c in range(cols):
            canvas.paste(cup, (40 + c * 200, 30 + r * 230))
    return np.asarray(canvas)


def test_shelf_count_cups(models: Models) -> None:
    body = compute.shelf_count(models, shelf(3, 6), [])
    assert body["product_count"].get("cup", 0) == 18
    assert "dining table" not in body["product_count"]
    whole = models.detector.detect(shelf(3, 6), models.settings.shelf_score).counts()
    assert whole.get("cup", 0) <= body["product_count"]["cup"]


def test_shelf_count_per_sku(models: Models) -> None:
    cup_image = sk("coffee")[0:260, 150:430]
    body = compute.shelf_count(
        models, shelf(2, 3), [("CUP-1", np.ascontiguousarray(cup_image)), ("CAT-1", sk("chelsea"))]
    )
    assert body["sku_count"].get("CUP-1", 0) == body["product_count"]["cup"] == 6
    assert "CAT-1" not in body["sku_count"]
    assert len(body["detection_skus"]) == len(body["detection_boxes"])
