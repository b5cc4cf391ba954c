"""The SKU-keyed FAISS index: kind by size, add/remove by SKU, and persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from recommend.errors import RecommendBadInput, UnknownSku
from recommend.index import VectorIndex
from recommend.settings import IndexSettings


def _vectors(n: int, dim: int = 16, seed: int = 0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    out: npt.NDArray[np.float32] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def test_flat_index_finds_each_vector_and_forgets_removed_skus() -> None:
    index = VectorIndex(16, IndexSettings())
    vecs = _vectors(20)
    skus = [f"S{i}" for i in range(20)]
    index.upsert(skus, vecs)
    assert index.kind == "flat"
    assert [index.search(vecs[i : i + 1], 1)[0][0][0] for i in range(20)] == skus
    index.remove(["S3", "S7", "NOPE"])
    assert len(index) == 18 and "S3" not in index
    hits = index.search(vecs[3:4], 18)[0]
    assert "S3" not in {s for s, _ in hits} and len(hits) == 18
    with pytest.raises(UnknownSku):
        index.vector("S3")


def test_upsert_replaces_a_skus_vector() -> None:
    index = VectorIndex(16, IndexSettings())
    vecs = _vectors(5)
    index.upsert(["A", "B", "C", "D", "E"], vecs)
    index.upsert(["A"], vecs[4:5])
    assert len(index) == 5
    assert {s for s, _ in index.search(vecs[0:1], 5)[0]} == {"A", "B", "C", "D", "E"}
    assert float(index.vector("A") @ vecs[4]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_large_kind_above_threshold_and_back(kind: str) -> None:
    settings = IndexSettings(flat_threshold=200, large_kind=kind, ivf_nlist=16, ivf_nprobe=16)
    index = VectorIndex(16, settings)
    vecs = _vectors(300, seed=1)
    skus = [f"S{i}" for i in range(300)]
    index.upsert(skus[:150], vecs[:150])
    assert index.kind == "flat"
    index.upsert(skus[150:], vecs[150:])
    assert index.kind == kind
    found = [index.search(vecs[i : i + 1], 1)[0][0][0] for i in range(0, 300, 7)]
    assert found == skus[0:300:7]
    index.remove(skus[:50])
    assert len(index) == 250
    assert all(s not in skus[:50] for s, _ in index.search(vecs[:5], 10)[0])
    index.remove(skus[50:150])
    assert index.kind == "flat"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index = VectorIndex(16, IndexSettings())
    vecs = _vectors(10)
    index.upsert([f"S{i}" for i in range(10)], vecs)
    index.remove(["S0"])
    index.save(tmp_path / "ix", {"embedder": "x"})
    loaded = VectorIndex.load(tmp_path / "ix", IndexSettings())
    assert loaded is not None
    again, meta = loaded
    assert meta == {"embedder": "x"} and len(again) == 9
    assert again.search(vecs[5:6], 1)[0][0][0] == "S5"
    again.upsert(["S10"], vecs[0:1])
    assert again.search(vecs[0:1], 1)[0][0][0] == "S10"


def test_load_of_missing_or_corrupt_index_is_none(tmp_path: Path) -> None:
    assert VectorIndex.load(tmp_path / "none", IndexSettings()) is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    assert VectorIndex.load(tmp_path / "bad", IndexSettings()) is None


def test_bad_dimensions_are_refused() -> None:
    index = VectorIndex(16, IndexSettings())
    with pytest.raises(RecommendBadInput):
        index.upsert(["A"], _vectors(1, dim=8))
    with pytest.raises(RecommendBadInput):
        index.search(_vectors(1, dim=8), 3)
    assert index.search(_vectors(1), 3) == [[]]
