"""Settings of the recommend capability (wired by the lead as ``Settings.recommend``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class IndexSettings(BaseModel):
    """How a product vector index is chosen by size, and its FAISS parameters."""

    flat_threshold: int = Field(default=100_000, ge=1)
    large_kind: Literal["ivf", "hnsw"] = "ivf"
    ivf_nlist: int = Field(default=2048, ge=1)
    ivf_nprobe: int = Field(default=16, ge=1)
    hnsw_m: int = Field(default=32, ge=4)
    hnsw_ef_construction: int = Field(default=80, ge=8)
    hnsw_ef_search: int = Field(default=64, ge=8)


class RankWeights(BaseModel):
    """Weights of the candidate signals in the re-rank (all similarities are in [0, 1])."""

    query: float = Field(default=1.0, ge=0)
    stage: float = Field(default=0.25, ge=0)
    history: float = Field(default=0.3, ge=0)
    co_engagement: float = Field(default=0.3, ge=0)
    category: float = Field(default=0.3, ge=0)
    diversity: float = Field(default=0.15, ge=0, le=1)


class RecommendSettings(BaseModel):
    """Embedders by name, index parameters, candidate sizes and re-rank weights."""

    embedder: Literal["use", "e5", "sentence-transformers"] = "use"
    reranker: Literal["use", "e5", "sentence-transformers"] | None = "e5"
    model_dir: Path | None = Field(
        default=None, description="model/data cache; None means Settings.model_dir"
    )
    index_dir: Path = Path("var/recommend")
    threads: int = Field(default=1, ge=1, le=16)
    top_k: int = Field(default=3, ge=1, le=20)
    candidates: int = Field(default=40, ge=1, le=1000)
    queue_size: int = Field(default=64, ge=1)
    history_size: int = Field(default=50, ge=1)
    usd_cny: float = Field(default=7.2, gt=0)
    image_embedder: str | None = Field(
        default=None, description="import path 'module:factory' of an ImageEmbedder factory"
    )
    index: IndexSettings = IndexSettings()
    weights: RankWeights = RankWeights()

    def cache_dir(self, root_model_dir: Path | None = None) -> Path:
        base = self.model_dir or root_model_dir or Path("~/.cache/live-commerce")
        return base.expanduser() / "recommend"
