"""Real models on real images: detection, faces, classification, similarity, person masks."""

from __future__ import annotations

import pytest

from tests.vision.conftest import Img
from vision import compute
from vision.backends import Models
from vision.image import decode_image, encode_jpeg
from vision.segment import rle_decode

pytestmark = pytest.mark.slow


def test_detector_finds_person_cup_cat(models: Models, images: dict[str, Img]) -> None:
    det = models.detector
    s = models.settings
    assert "person" in det.detect(images["astronaut"], s.detect_score).names
    assert "cup" in det.detect(images["coffee"], s.detect_score).names
    chelsea = det.detect(images["chelsea"], s.detect_score)
    assert "cat" in chelsea.names
    assert "person" not in chelsea.names
    h, w = images["chelsea"].shape[:2]
    box = chelsea.boxes[chelsea.names.index("cat")]
    assert 0 <= box[0] < box[2] <= h and 0 <= box[1] < box[3] <= w  # [top, left, bottom, right]


def test_face_on_astronaut_only(models: Models, images: dict[str, Img]) -> None:
    score = models.settings.face_score
    faces = models.face.faces(images["astronaut"], score)
    assert len(faces) == 1
    top, left, bottom, right = faces[0].box
    assert 20 < bottom - top < 250 and 20 < right - left < 250
    # eyes, nose and mouth keypoints fall inside the face box, eyes above the mouth
    for y, x in faces[0].keypoints[:4]:
        assert top <= y <= bottom and left <= x <= right
    (ry, _), (ly, _), _, (my, _) = faces[0].keypoints[:4]
    assert max(ry, ly) < my
    # the face is inside the person box the detector finds
    person = models.detector.detect(images["astronaut"], 0.3)
    pbox = person.boxes[person.names.index("person")]
    cy, cx = (top + bottom) / 2, (left + right) / 2
    assert pbox[0] <= cy <= pbox[2] and pbox[1] <= cx <= pbox[3]
    assert models.face.faces(images["coffee"], score) == []


def test_classification_labels(models: Models, images: dict[str, Img]) -> None:
    cat = compute.classification(models, images["chelsea"])
    assert "cat" in cat["class_name"]
    assert len(cat["class_probs"]) == 1000
    assert abs(sum(cat["class_probs"].values()) - 1.0) < 0.05
    coffee = models.classifier.classify(images["coffee"]).top(2)
    assert {"espresso", "cup"} & {name for _, name, _ in coffee}


def test_similarity_calibration(models: Models, images: dict[str, Img]) -> None:
    a = images["coffee"]
    same = compute.similar(models, a, a)
    assert same["similarity"] == pytest.approx(100.0)
    assert same["l2_distance"] == pytest.approx(0.0, abs=1e-6)
    copy = decode_image(encode_jpeg(a, 70), models.settings)
    assert compute.similar(models, a, copy)["similarity"] >= 80
    for other in ("astronaut", "chelsea"):
        diff = compute.similar(models, a, images[other])
        assert diff["similarity"] < 80
        assert diff["l2_distance"] > copy_distance(models, a, copy)


def copy_distance(models: Models, a: Img, b: Img) -> float:
    return float(compute.similar(models, a, b)["l2_distance"])


def test_person_mask_gated(models: Models, images: dict[str, Img]) -> None:
    astro = compute.foreground(models, images["astronaut"])
    mask = rle_decode(astro["mask"])
    assert mask.shape == images["astronaut"].shape[:2]
    assert 0.15 < float(astro["human_ratio"]) < 0.9
    assert float(astro["human_ratio"]) == pytest.approx(mask.mean(), abs=1e-3)
    # the segmenter alone fires on the cat and the cup; the face/person gate stops it
    assert float(models.segmenter.person_prob(images["chelsea"]).mean()) > 0.2
    for name in ("chelsea", "coffee"):
        out = compute.foreground(models, images[name])
        assert out["human_ratio"] == "0.0000"
        assert not rle_decode(out["mask"]).any()


def test_scene_has_top5_and_objects(models: Models, images: dict[str, Img]) -> None:
    out = compute.scene(models, images["coffee"])
    assert len(out["class"]) == len(out["class_name"]) == 5
    probs = [out["class_probs"][n] for n in out["class_name"]]
    assert probs == sorted(probs, reverse=True)
    assert out["scene_objects"].get("cup", 0) >= 1
