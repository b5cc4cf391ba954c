"""ImageNet classification and 1280-d image embeddings: EfficientNet-Lite3 int8 on LiteRT."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from vision.files import model_path
from vision.image import RGB

F32 = NDArray[np.float32]


@dataclass
class Classified:
    probs: F32  # [1000], sums to about 1
    embedding: F32  # [1280], L2-normalized
    labels: list[str]

    def top(self, k: int) -> list[tuple[int, str, float]]:
        idx = np.argsort(-self.probs)[:k]
        return [(int(i), self.labels[int(i)], float(self.probs[int(i)])) for i in idx]


class Classifier(Protocol):
    labels: list[str]

    def classify(self, image: RGB) -> Classified: ...


def _resize(image: RGB, size: int) -> RGB:
    import cv2

    out = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)


class EfficientNetLite3:
    """Reads the softmax and the pooled penultimate layer (head/Squeeze) of the same pass."""

    def __init__(self, model_dir: Path, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]

        path = model_path(model_dir, "efficientnet_lite3.tflite")
        labels = model_path(model_dir, "efficientnet_labels.txt")
        names = [line.strip() for line in labels.read_text().splitlines() if line.strip()]
        # ImageNet repeats a few names (crane, maillot): keep class_probs keys unique.
        self.labels = [n if names.count(n) == 1 else f"{n} ({i})" for i, n in enumerate(names)]
        with warnings.catch_warnings():  # LiteRT warns that preserving tensors costs memory
            warnings.simplefilter("ignore")
            self._it = Interpreter(
                model_path=str(path), num_threads=threads, experimental_preserve_all_tensors=True
            )
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        self._input = int(inp["index"])
        self.size = int(inp["shape"][1])
        self._probs = self._it.get_output_details()[0]
        emb = [
            t
            for t in self._it.get_tensor_details()
            if list(t["shape"]) == [1, 1280] and "Squeeze" in str(t["name"])
        ]
        if not emb:
            raise RuntimeError("EfficientNet-Lite3: penultimate [1,1280] tensor not found")
        self._emb = emb[0]
        self._lock = threading.Lock()

    @staticmethod
    def _dequant(raw: NDArray[np.generic], detail: dict[str, object]) -> F32:
        quant: tuple[float, int] = detail["quantization"]  # type: ignore[assignment]
        scale, zero = quant
        values = raw.astype(np.float32).reshape(-1)
        if scale:
            values = (values - float(zero)) * float(scale)
        return values

    def classify(self, image: RGB) -> Classified:
        x = _resize(image, self.size)[None]
        with self._lock:
            self._it.set_tensor(self._input, x)
            self._it.invoke()
            probs = self._dequant(self._it.get_tensor(self._probs["index"]), self._probs)
            emb = self._dequant(self._it.get_tensor(self._emb["index"]), self._emb)
        probs = probs / max(float(probs.sum()), 1e-6)
        emb = emb / max(float(np.linalg.norm(emb)), 1e-6)
        return Classified(probs.astype(np.float32), emb.astype(np.float32), self.labels)


# Calibration of the embedding distance to the PAI 0-100 score, measured on skimage.data images:
# identical images give d = 0; JPEG re-encodes, half-size copies and 90% crops stay under 0.45;
# pairs of unrelated images sit at d >= 1.03 (median 1.26). score = 100 * exp(-(d / SCALE) ** 2)
# puts 80 at d = 0.70: copies score >= 91, unrelated images <= 62.
SIM_SCALE = 1.48


def similarity(a: F32, b: F32) -> tuple[float, float]:
    """(score 0-100, l2 distance) of two L2-normalized embeddings."""
    dist = float(np.linalg.norm(a - b))
    score = 100.0 * float(np.exp(-((dist / SIM_SCALE) ** 2)))
    return round(score, 4), round(dist, 6)
