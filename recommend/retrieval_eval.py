"""The labelled viewer-query set against the demo catalog: MRR and hit@3 per embedder stack."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.catalog import Catalog, product_text
from assistant.embedders import Embedder, embed_queries
from recommend.index import VectorIndex
from recommend.recommender import ProductRecommender
from recommend.settings import RecommendSettings


class LabelledQuery(BaseModel):
    query: str
    relevant: list[str] = Field(min_length=1)
    lang: str
    tags: list[str] = Field(default_factory=list)
    stage_sku: str | None = None


class QuerySet(BaseModel):
    catalog: str
    description: str = ""
    queries: list[LabelledQuery]


class RetrievalScore(BaseModel):
    mrr: float
    hit_at_3: float
    queries: int
    misses: list[str] = Field(default_factory=list)


def load_queries(path: Path) -> QuerySet:
    return QuerySet.model_validate(json.loads(path.read_text()))


def score(rankings: list[list[str]], queries: list[LabelledQuery]) -> RetrievalScore:
    rr, hits, misses = 0.0, 0, []
    for ranked, q in zip(rankings, queries, strict=True):
        first = next((i for i, s in enumerate(ranked) if s in q.relevant), None)
        rr += 1.0 / (first + 1) if first is not None else 0.0
        hits += first is not None and first < 3
        if first is None or first >= 3:
            misses.append(q.query)
    n = len(queries)
    return RetrievalScore(mrr=rr / n, hit_at_3=hits / n, queries=n, misses=misses)


def embedder_only(
    embedder: Embedder, catalog: Catalog, queries: list[LabelledQuery]
) -> RetrievalScore:
    """Plain nearest neighbours of the query among product texts: no filters, no re-rank."""
    settings = RecommendSettings()
    index = VectorIndex(embedder.dim, settings.index, embedder.name)
    index.upsert(
        [p.sku for p in catalog.products],
        embedder.embed([product_text(p) for p in catalog.products]),
    )
    vecs = embed_queries(embedder, [q.query for q in queries])
    return score([[s for s, _ in hits] for hits in index.search(vecs, 10)], queries)


def full_stack(recommender: ProductRecommender, queries: list[LabelledQuery]) -> RetrievalScore:
    """The recommender as viewers meet it: stock and price filters, stage, re-rank, diversity."""
    rankings = [
        [item.sku for item in recommender.recommend(q.query, stage_sku=q.stage_sku, k=10).items]
        for q in queries
    ]
    return score(rankings, queries)
