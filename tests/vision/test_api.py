"""Contract tests: every endpoint's fields and shapes against the PAI docs (seed 001)."""

from __future__ import annotations

import base64
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.vision.conftest import Img, open_app, png, render_frame
from vision.backends import Models
from vision.engine import VisionEngine
from vision.segment import rle_decode

pytestmark = pytest.mark.slow


@pytest.fixture
async def http(models: Models, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    engine = VisionEngine(models.settings, models.model_dir, models)
    app = open_app(engine, tmp_path / "s.sqlite3")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as client:
        yield client
    engine.close()


def b64(rgb: Img) -> str:
    return base64.b64encode(png(rgb)).decode()


def ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["success"] is True
    assert isinstance(body["request_id"], str) and len(body["request_id"]) >= 16
    assert "error_code" not in body and "error_msg" not in body
    return body


def check_detection(body: dict[str, Any]) -> int:
    n = len(body["detection_scores"])
    assert len(body["detection_boxes"]) == len(body["detection_classes"]) == n
    assert len(body["detection_class_names"]) == n
    for box in body["detection_boxes"]:
        assert len(box) == 4 and all(isinstance(v, float | int) for v in box)
        assert box[0] <= box[2] and box[1] <= box[3]  # [top, left, bottom, right]
    assert all(isinstance(c, int) for c in body["detection_classes"])
    assert all(isinstance(c, str) for c in body["detection_class_names"])
    assert all(0 <= s <= 1 for s in body["detection_scores"])
    return n


async def test_classification(http: httpx.AsyncClient, images: dict[str, Img]) -> None:
    body = ok(await http.post("/v1/vision/classification", json={"image": b64(images["chelsea"])}))
    assert isinstance(body["class"], int) and isinstance(body["class_name"], str)
    assert body["class_probs"][body["class_name"]] == max(body["class_probs"].values())


async def test_detection(http: httpx.AsyncClient, images: dict[str, Img]) -> None:
    body = ok(await http.post("/v1/vision/detection", json={"image": b64(images["coffee"])}))
    assert check_detection(body) >= 1
    assert "cup" in body["detection_class_names"]


async def test_ocr(http: httpx.AsyncClient) -> None:
    frame = render_frame(["精华液 30ml", "¥129"])
    body = ok(await http.post("/v1/vision/ocr", json={"image": b64(frame)}))
    n = check_detection(body)
    assert n >= 2
    assert np.asarray(body["detection_keypoints"]).shape == (n, 4, 2)
    assert len(body["detection_texts"]) == len(body["detection_texts_scores"]) == n
    ids = body["detection_texts_ids"]
    assert len(ids) == n and len({len(row) for row in ids}) == 1
    assert "".join(chr(c) for c in ids[0] if c) == body["detection_texts"][0]
    assert set(body["detection_class_names"]) == {"text"}


async def test_shelf_count(http: httpx.AsyncClient, images: dict[str, Img]) -> None:
    body = ok(await http.post("/v1/vision/shelf_count", json={"image": b64(images["coffee"])}))
    check_detection(body)
    assert sum(body["product_count"].values()) == len(body["detection_boxes"])
    assert "dining table" not in body["product_count"]


async def test_foreground(http: httpx.AsyncClient, images: dict[str, Img]) -> None:
    url = "data:image/png;base64," + b64(images["astronaut"])
    body = ok(await http.post("/v1/vision/foreground_segmentation", json={"input": {"url": url}}))
    assert isinstance(body["human_ratio"], str) and 0 < float(body["human_ratio"]) < 1
    assert body["mask"]["size"] == [512, 512]
    assert rle_decode(body["mask"]).mean() == pytest.approx(float(body["human_ratio"]), abs=1e-3)


async def test_scene(http: httpx.AsyncClient, images: dict[str, Img]) -> None:
    body = ok(await http.post("/v1/vision/scene", json={"image": b64(images["coffee"])}))
    assert len(body["class"]) == 5 and all(isinstance(c, int) for c in body["class"])
    assert len(body["class_name"]) == 5 and len(body["class_probs"]) == 1000


async def test_similarity(http: httpx.AsyncClient, images: dict[str, Img]) -> None:
    a, b = b64(images["coffee"]), b64(images["chelsea"])
    same = ok(await http.post("/v1/vision/similarity", json={"imagea": a, "imageb": a}))
    assert same["similarity"] == pytest.approx(100.0) and same["l2_distance"] == 0.0
    diff = ok(await http.post("/v1/vision/similarity", json={"imagea": a, "imageb": b}))
    assert diff["similarity"] < 80 and diff["l2_distance"] > 0


def failed(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["success"] is False and isinstance(body["request_id"], str)
    assert isinstance(body["error_code"], int) and body["error_msg"]
    return body


@pytest.mark.parametrize(
    ("path", "payload", "status"),
    [
        ("/v1/vision/nope", {"image": "aGk="}, 404),
        ("/v1/vision/detection", {"image": "%%%not base64"}, 400),
        ("/v1/vision/detection", {"image": base64.b64encode(b"hello").decode()}, 400),
        ("/v1/vision/detection", {"img": "aGk="}, 400),
        ("/v1/vision/detection", ["image"], 400),
        ("/v1/vision/similarity", {"imagea": "aGk="}, 400),
        ("/v1/vision/foreground_segmentation", {"input": {"url": "http://169.254.169.254/"}}, 400),
        ("/v1/vision/foreground_segmentation", {"input": {"url": "file:///etc/passwd"}}, 400),
        ("/v1/vision/foreground_segmentation", {"image": "aGk="}, 400),
    ],
)
async def test_bad_input(http: httpx.AsyncClient, path: str, payload: object, status: int) -> None:
    failed(await http.post(path, json=payload), status)


async def test_broken_images(http: httpx.AsyncClient, images: dict[str, Img]) -> None:
    jpeg = base64.b64decode(b64(images["coffee"]))
    failed(await http.post("/v1/vision/detection", content=b"{not json"), 400)
    truncated = base64.b64encode(jpeg[: len(jpeg) // 2]).decode()
    failed(await http.post("/v1/vision/detection", json={"image": truncated}), 400)
    failed(await http.post("/v1/vision/detection", json={"image": ""}), 400)
    # a tiny PNG header claiming 100k x 100k pixels is refused before decoding
    tiny = png(np.zeros((1, 1, 3), np.uint8))
    ihdr = (100_000).to_bytes(4, "big") * 2 + tiny[24:29]
    crc = zlib.crc32(b"IHDR" + ihdr).to_bytes(4, "big")
    huge = tiny[:16] + ihdr + crc + tiny[33:]
    body = {"image": base64.b64encode(huge).decode()}
    failed(await http.post("/v1/vision/detection", json=body), 413)
    big = "A" * (20 * 1024 * 1024)
    failed(await http.post("/v1/vision/detection", json={"image": big}), 413)
