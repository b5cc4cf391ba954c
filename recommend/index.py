"""A FAISS vector index keyed by SKU: Flat below a size threshold, IVF or HNSW above, persisted."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.embedders import Matrix, normalise
from recommend.errors import RecommendBackendUnavailable, RecommendBadInput, UnknownSku
from recommend.settings import IndexSettings


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise RecommendBackendUnavailable(
            f"the index needs faiss-cpu: pip install faiss-cpu ({exc})"
        ) from exc
    return faiss


def set_threads(threads: int) -> None:
    """Set FAISS OpenMP threads (process-wide); 1 avoids wake-up stalls on tiny searches."""
    _faiss().omp_set_num_threads(threads)


def build_faiss(
    vectors: Matrix, ids: npt.NDArray[np.int64], settings: IndexSettings, kind: str
) -> Any:
    """Build a FAISS inner-product index of ``kind`` (flat, ivf, hnsw) over ``vectors``."""
    faiss = _faiss()
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif kind == "ivf":
        nlist = max(1, min(settings.ivf_nlist, int(4 * math.sqrt(max(len(vectors), 1)))))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.max_points_per_centroid = 64
        ivf.train(vectors)
        ivf.nprobe = min(settings.ivf_nprobe, nlist)
        index = ivf
    elif kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = settings.hnsw_ef_construction
        hnsw.hnsw.efSearch = settings.hnsw_ef_search
        index = faiss.IndexIDMap2(hnsw)
    else:
        raise RecommendBadInput(f"unknown index kind {kind!r}")
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return index


class VectorIndex:
    """SKU-addressed vectors in a FAISS index; add/remove by SKU keep the id maps in step."""

    def __init__(self, dim: int, settings: IndexSettings, name: str = "text") -> None:
        self.dim = dim
        self.name = name
        self.settings = settings
        self.kind = "flat"
        self._ids: dict[str, int] = {}
        self._skus: dict[int, str] = {}
        self._vectors: dict[str, Matrix] = {}
        self._next = 0
        self._index: Any = build_faiss(
            np.zeros((0, dim), np.float32), np.zeros(0, np.int64), settings, "flat"
        )

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, sku: object) -> bool:
        return sku in self._ids

    def skus(self) -> list[str]:
        return list(self._ids)

    def vector(self, sku: str) -> Matrix:
        if sku not in self._vectors:
            raise UnknownSku(f"sku {sku!r} is not in the {self.name} index")
        return self._vectors[sku]

    def _wanted_kind(self, n: int) -> str:
        return "flat" if n < self.settings.flat_threshold else self.settings.large_kind

    def _rebuild(self) -> None:
        self.kind = self._wanted_kind(len(self._ids))
        skus = list(self._ids)
        vecs = (
            np.stack([self._vectors[s] for s in skus])
            if skus
            else np.zeros((0, self.dim), np.float32)
        )
        ids = np.array([self._ids[s] for s in skus], dtype=np.int64)
        self._index = build_faiss(vecs, ids, self.settings, self.kind)

    def upsert(self, skus: list[str], vectors: Matrix) -> None:
        """Add products, or replace the vectors of SKUs already present."""
        if len(skus) != len(vectors):
            raise RecommendBadInput("skus and vectors differ in length")
        if not skus:
            return
        vectors = normalise(vectors)
        if vectors.shape[1] != self.dim:
            raise RecommendBadInput(f"vectors have dim {vectors.shape[1]}, index has {self.dim}")
        self.remove([s for s in skus if s in self._ids])
        new_ids = np.arange(self._next, self._next + len(skus), dtype=np.int64)
        self._next += len(skus)
        for sku, i, vec in zip(skus, new_ids, vectors, strict=True):
            self._ids[sku] = int(i)
            self._skus[int(i)] = sku
            self._vectors[sku] = vec
        if self._wanted_kind(len(self._ids)) != self.kind:
            self._rebuild()
        else:
            self._index.add_with_ids(vectors, new_ids)

    def remove(self, skus: list[str]) -> None:
        """Remove products by SKU; unknown SKUs are ignored."""
        ids = [self._ids.pop(s) for s in skus if s in self._ids]
        for i in ids:
            sku = self._skus.pop(i)
            del self._vectors[sku]
        if not ids:
            return
        if self.kind == "hnsw" or self._wanted_kind(len(self._ids)) != self.kind:
            self._rebuild()  # HNSW cannot delete; vectors are kept, so no re-embedding
        else:
            self._index.remove_ids(np.array(ids, dtype=np.int64))

    def search(self, queries: Matrix, k: int) -> list[list[tuple[str, float]]]:
        """Top-k (sku, inner product) per query row, best first."""
        queries = normalise(queries)
        if queries.shape[1] != self.dim:
            raise RecommendBadInput(f"query has dim {queries.shape[1]}, index has {self.dim}")
        if not self._ids or k <= 0:
            return [[] for _ in range(len(queries))]
        scores, ids = self._index.search(queries, min(k, len(self._ids)))
        return [
            [(self._skus[int(i)], float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]

    # -- persistence ---------------------------------------------------------------------------

    def save(self, directory: Path, meta: dict[str, Any]) -> None:
        """Write the FAISS index, the vectors and the id maps atomically under ``directory``."""
        faiss = _faiss()
        directory.mkdir(parents=True, exist_ok=True)
        skus = list(self._ids)
        vecs = (
            np.stack([self._vectors[s] for s in skus])
            if skus
            else np.zeros((0, self.dim), np.float32)
        )
        tmp = directory / ".tmp"
        tmp.mkdir(exist_ok=True)
        faiss.write_index(self._index, str(tmp / "index.faiss"))
        np.save(tmp / "vectors.npy", vecs)
        manifest = {
            "dim": self.dim,
            "kind": self.kind,
            "next": self._next,
            "ids": {s: self._ids[s] for s in skus},
            "order": skus,
            "meta": meta,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
        for name in ("index.faiss", "vectors.npy", "manifest.json"):
            os.replace(tmp / name, directory / name)
        tmp.rmdir()

    @classmethod
    def load(
        cls, directory: Path, settings: IndexSettings, name: str = "text"
    ) -> tuple[VectorIndex, dict[str, Any]] | None:
        """Load a saved index, or None when there is none or it does not read back whole."""
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
            vecs = np.load(directory / "vectors.npy")
            index = _faiss().read_index(str(directory / "index.faiss"))
        except (OSError, ValueError, RuntimeError):
            return None
        order: list[str] = manifest["order"]
        if len(order) != len(vecs) or index.ntotal != len(order):
            return None
        self = cls(int(manifest["dim"]), settings, name)
        self.kind = manifest["kind"]
        self._next = int(manifest["next"])
        self._ids = {s: int(manifest["ids"][s]) for s in order}
        self._skus = {i: s for s, i in self._ids.items()}
        self._vectors = {s: vecs[j] for j, s in enumerate(order)}
        self._index = index
        if self.kind == "ivf":
            index.nprobe = settings.ivf_nprobe
        return self, dict(manifest["meta"])
