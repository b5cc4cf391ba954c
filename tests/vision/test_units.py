"""Pure pieces: BlazeFace anchors and decoding, PAI RLE, NMS, tiles, price parsing, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vision.errors import BadImage, ModelMissing
from vision.face import blazeface_anchors, decode_faces
from vision.files import model_path
from vision.matcher import load_product_image, screen_prices
from vision.segment import Mask, rle_decode, rle_encode
from vision.settings import VisionSettings
from vision.shelf import tiles
from vision.types import nms


def test_anchor_grid() -> None:
    anchors = blazeface_anchors()
    assert anchors.shape == (896, 2)
    # 16x16 cells with 2 anchors, then 8x8 cells with 6
    assert anchors[0] == pytest.approx([0.5 / 16, 0.5 / 16])
    assert anchors[512] == pytest.approx([0.5 / 8, 0.5 / 8])
    assert anchors[895] == pytest.approx([7.5 / 8, 7.5 / 8])


def test_decode_offsets_around_anchor() -> None:
    anchors = blazeface_anchors()
    reg = np.zeros((896, 16), np.float32)
    logits = np.full((896, 1), -20.0, np.float32)
    i = 600
    reg[i, :4] = [12.8, -6.4, 32.0, 64.0]  # dx, dy, w, h in 128-px units
    reg[i, 4:6] = [3.2, 1.6]
    logits[i] = 5.0
    (score, box, kps), *rest = decode_faces(reg, logits, anchors, 0.5)
    assert rest == []
    assert score == pytest.approx(1 / (1 + np.exp(-5.0)))
    cx, cy = anchors[i, 0] + 0.1, anchors[i, 1] - 0.05
    assert box == pytest.approx((cy - 0.25, cx - 0.125, cy + 0.25, cx + 0.125), abs=1e-6)
    assert kps[0] == pytest.approx((anchors[i, 1] + 0.0125, anchors[i, 0] + 0.025), abs=1e-6)


def test_rle_pai_example() -> None:
    assert rle_encode(np.array([[True, False], [False, True]]))["counts"] == [0, 1, 2, 1]
    assert rle_encode(np.zeros((3, 4), bool)) == {"counts": [12], "size": [3, 4]}


@given(arrays(np.bool_, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_rle_roundtrip(mask: Mask) -> None:
    rle = rle_encode(mask)
    assert sum(rle["counts"]) == mask.size
    assert (rle_decode(rle) == mask).all()


def test_nms_merges_overlaps_keeps_neighbours() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 20, 10, 30]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert sorted(nms(boxes, scores, 0.45)) == [0, 2]


def test_tiles_cover_frame() -> None:
    views = tiles(720, 1280, 360, 0.3)
    covered = np.zeros((720, 1280), bool)
    for y, x, th, tw in views:
        covered[y : y + th, x : x + tw] = True
    assert covered.all()


def test_screen_prices() -> None:
    assert screen_prices(["限时价 ¥89.00", "原价199元", "Price: 12.5"]) == [89.0, 199.0, 12.5]
    assert screen_prices(["50ml 3瓶"]) == []


def test_missing_model_names_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=r"python -m vision\.install"):
        model_path(tmp_path, "ssd_mobilenet_v2_coco.pb")


def test_product_image_paths_stay_in_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "img").mkdir(parents=True)
    (data_dir / "img" / "a.png").write_bytes(b"PNGDATA")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    s = VisionSettings(data_dir=data_dir)
    assert load_product_image("data/img/a.png", s) == b"PNGDATA"
    assert load_product_image("img/a.png", s) == b"PNGDATA"
    with pytest.raises(BadImage):  # outside data/: not read, and not valid base64 either
        load_product_image("../secret.txt", s)
    assert load_product_image("aGVsbG8=", s) == b"hello"
