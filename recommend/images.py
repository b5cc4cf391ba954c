"""Product image vectors: a protocol vision's embedder meets, loaded by an import path."""

from __future__ import annotations

import base64
import binascii
import importlib
from pathlib import Path
from typing import Protocol, runtime_checkable

from assistant.catalog import Product
from assistant.embedders import Matrix
from recommend.errors import RecommendBackendUnavailable
from recommend.settings import RecommendSettings


@runtime_checkable
class ImageEmbedder(Protocol):
    """Maps encoded images (JPEG/PNG bytes) to L2-normalised float32 vectors [n, dim]."""

    name: str
    dim: int

    def embed_images(self, images: list[bytes]) -> Matrix: ...


class ImageEmbedderFactory(Protocol):
    """``factory(model_dir)``: builds the embedder from files under the shared model directory."""

    def __call__(self, model_dir: Path) -> ImageEmbedder: ...


def load_image_embedder(path: str, settings: RecommendSettings) -> ImageEmbedder:
    """Import ``module:factory`` (e.g. vision's classifier embedder) and build it; recommend never
    imports vision itself, the import path comes from settings."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise RecommendBackendUnavailable(f"image_embedder {path!r} is not 'module:factory'")
    try:
        factory: ImageEmbedderFactory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise RecommendBackendUnavailable(f"cannot load image embedder {path!r}: {exc}") from exc
    embedder = factory((settings.model_dir or Path("~/.cache/live-commerce")).expanduser())
    if not isinstance(embedder, ImageEmbedder):
        raise RecommendBackendUnavailable(f"{path!r} did not build an ImageEmbedder")
    return embedder


def product_image(product: Product, data_root: Path) -> bytes | None:
    """A product's image bytes: a path under ``data_root``, or base64; None when absent or bad."""
    ref = product.image
    if not ref:
        return None
    candidate = (data_root / ref).resolve()
    if candidate.is_relative_to(data_root.resolve()) and candidate.is_file():
        return candidate.read_bytes()
    try:
        return base64.b64decode(ref.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        return None
