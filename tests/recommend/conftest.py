"""Fixtures: the demo catalog, a fast hashing embedder, settings on tmp paths, the model cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.catalog import Catalog
from recommend.settings import IndexSettings, RecommendSettings
from tests.fakes.recommend_embedders import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
DEMO_CATALOG = ROOT / "data" / "demo_catalog.json"
QUERIES = ROOT / "data" / "eval" / "queries_zh.json"


def model_dir() -> Path:
    return Path(os.environ.get("LCA_MODEL_DIR", "~/.cache/live-commerce")).expanduser()


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.model_validate_json(DEMO_CATALOG.read_text())


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> RecommendSettings:
    return RecommendSettings(
        index_dir=tmp_path / "index",
        model_dir=model_dir(),
        reranker=None,
        index=IndexSettings(flat_threshold=100_000),
    )
