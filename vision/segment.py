"""Person segmentation: MediaPipe selfie segmentation (landscape) on LiteRT, and PAI mask RLE."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from vision.files import model_path
from vision.image import RGB

F32 = NDArray[np.float32]
Mask = NDArray[np.bool_]


def rle_encode(mask: Mask) -> dict[str, list[int]]:
    """PAI RLE: runs over the row-major mask, alternating False/True, starting with False."""
    flat = mask.reshape(-1).astype(np.int8)
    h, w = mask.shape
    if flat.size == 0:
        return {"counts": [], "size": [int(h), int(w)]}
    change = np.nonzero(np.diff(flat))[0] + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).astype(int).tolist()
    if flat[0]:
        runs = [0, *runs]
    return {"counts": [int(r) for r in runs], "size": [int(h), int(w)]}


def rle_decode(rle: dict[str, list[int]]) -> Mask:
    h, w = rle["size"]
    values = np.zeros(h * w, dtype=bool)
    pos, value = 0, False
    for run in rle["counts"]:
        values[pos : pos + run] = value
        pos += run
        value = not value
    return values.reshape(h, w)


class Segmenter(Protocol):
    def person_prob(self, image: RGB) -> F32: ...


class SelfieSegmentation:
    """Returns the person probability per pixel, resized back to the frame."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]

        path = model_path(model_dir, "selfie_segmentation_landscape.tflite")
        self._it = Interpreter(model_path=str(path), num_threads=threads)
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        self._in = int(inp["index"])
        self._h, self._w = int(inp["shape"][1]), int(inp["shape"][2])
        self._out = int(self._it.get_output_details()[0]["index"])
        self._lock = threading.Lock()

    def person_prob(self, image: RGB) -> F32:
        import cv2

        h, w = image.shape[:2]
        x = cv2.resize(image, (self._w, self._h), interpolation=cv2.INTER_AREA)
        x = x.astype(np.float32)[None] / 255.0
        with self._lock:
            self._it.set_tensor(self._in, x)
            self._it.invoke()
            prob = np.array(self._it.get_tensor(self._out)[0, :, :, 0], dtype=np.float32)
        return np.asarray(cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
