"""A deterministic character n-gram hashing embedder: fast stand-in for real models in tests."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt


class HashingEmbedder:
    """Bag of character uni/bi-grams hashed into ``dim`` buckets, L2-normalised."""

    def __init__(self, dim: int = 256, name: str = "fake-hash") -> None:
        self.dim = dim
        self.name = name
        self.calls = 0
        self.texts_embedded = 0

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            low = text.lower()
            grams = list(low) + [low[i : i + 2] for i in range(len(low) - 1)]
            for gram in grams:
                if gram.strip():
                    bucket = int(hashlib.md5(gram.encode()).hexdigest()[:8], 16) % self.dim
                    out[row, bucket] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = out / np.maximum(norms, 1e-12)
        return result


class FixedImageEmbedder:
    """Image 'embedding' = a hash of the bytes: the same image gives the same vector."""

    name = "fake-image"
    dim = 32

    def embed_images(self, images: list[bytes]) -> npt.NDArray[np.float32]:
        rng = [np.random.default_rng(int(hashlib.md5(b).hexdigest()[:8], 16)) for b in images]
        out = np.stack([r.standard_normal(self.dim).astype(np.float32) for r in rng])
        result: npt.NDArray[np.float32] = out / np.linalg.norm(out, axis=1, keepdims=True)
        return result
