"""Real embedders and real data: the labelled zh/en query set and MovieLens-100k."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.catalog import Catalog
from assistant.embedders import Embedder, create_embedder, embed_queries
from assistant.errors import BackendUnavailable
from recommend.install import install, installed
from recommend.offline import run_all
from recommend.recommender import ProductRecommender
from recommend.retrieval_eval import embedder_only, full_stack, load_queries
from recommend.settings import RecommendSettings
from tests.recommend.conftest import QUERIES, model_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real() -> dict[str, Embedder]:
    return {name: create_embedder(name) for name in ("use", "e5")}


@pytest.mark.parametrize("name", ["use", "e5"])
def test_embedders_return_normalised_float32(real: dict[str, Embedder], name: str) -> None:
    embedder = real[name]
    out = embedder.embed(["保温杯", "thermos", ""])
    assert out.dtype == np.float32 and out.shape == (3, embedder.dim)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    assert embedder.embed([]).shape == (0, embedder.dim)
    same = embed_queries(embedder, ["保温杯"])[0] @ embedder.embed(["保温杯 不锈钢 保温"])[0]
    other = embed_queries(embedder, ["保温杯"])[0] @ embedder.embed(["婴儿纸尿裤"])[0]
    assert same > other


def test_default_stack_meets_the_hit_at_3_goal(real: dict[str, Embedder]) -> None:
    query_set = load_queries(QUERIES)
    assert len(query_set.queries) >= 40
    assert {q.lang for q in query_set.queries} == {"zh", "en"}
    catalog = Catalog.model_validate_json((QUERIES.parents[2] / query_set.catalog).read_text())
    settings = RecommendSettings()
    stack = ProductRecommender(real["use"], settings, real["e5"])
    stack.sync(catalog)
    score = full_stack(stack, query_set.queries)
    assert score.hit_at_3 >= 0.85, score.misses
    plain = embedder_only(real["use"], catalog, query_set.queries)
    assert score.mrr > plain.mrr  # filters, stage and re-rank add to bare vector search


def test_sentence_transformers_backend_loads_a_local_model(catalog: Catalog) -> None:
    embedder = create_embedder("sentence-transformers")
    assert embedder.name.startswith("sentence-transformers:")
    out = embedder.embed(["noise cancelling earbuds", "stainless steel thermos"])
    assert out.shape == (2, embedder.dim) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-4)
    rec = ProductRecommender(embedder, RecommendSettings(reranker=None))
    rec.sync(catalog)
    assert rec.recommend("noise cancelling earbuds").items[0].sku == "EL-EAR-TWS-ANC"


def test_hybrid_beats_popularity_on_movielens() -> None:
    cache = model_dir() / "recommend"
    if not installed(cache):
        install(cache)
    metrics = run_all(cache)
    assert metrics["popularity"].users == 943
    assert metrics["hybrid"].hit_rate > metrics["popularity"].hit_rate
    assert metrics["hybrid"].ndcg > metrics["popularity"].ndcg
    assert metrics["item_knn_faiss"].hit_rate > 0


def test_missing_models_name_the_fix(tmp_path: Path) -> None:
    from recommend.errors import RecommendBackendUnavailable
    from recommend.offline import load_ml100k

    with pytest.raises(RecommendBackendUnavailable, match=r"recommend\.install"):
        load_ml100k(tmp_path)
    with pytest.raises(BackendUnavailable):
        create_embedder("nope")
    with pytest.raises(BackendUnavailable, match="missing"):
        create_embedder("sentence-transformers", st_model_path=tmp_path / "none")
