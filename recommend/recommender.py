"""The product recommender: query, stage, history and co-engagement candidates; a re-rank."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from assistant.catalog import Catalog, Product, product_text
from assistant.embedders import Embedder, Matrix, embed_queries, normalise
from assistant.events import RecommendedItem
from recommend.activity import RoomActivity
from recommend.errors import RecommendBadInput, UnknownSku
from recommend.index import VectorIndex
from recommend.rank import diverse, minmax
from recommend.reasons import build_reason
from recommend.settings import RecommendSettings
from recommend.text import (
    CATEGORY_WORDS,
    Ask,
    PriceFilter,
    parse_ask,
    query_content,
)


class SyncReport(BaseModel):
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unchanged: int = 0
    without_text: list[str] = Field(default_factory=list)


class RecommendResult(BaseModel):
    items: list[RecommendedItem]
    intent: Ask
    note: str = ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ProductRecommender:
    """One catalog's indexes (primary, re-ranker, optional image vectors) and the ranker."""

    def __init__(
        self, embedder: Embedder, settings: RecommendSettings, reranker: Embedder | None = None
    ) -> None:
        self.settings = settings
        self.embedders = [embedder] + ([reranker] if reranker is not None else [])
        self.indexes = [VectorIndex(e.dim, settings.index, e.name) for e in self.embedders]
        self.hashes: dict[str, str] = {}
        self.products: dict[str, Product] = {}
        self.image_index: VectorIndex | None = None

    # -- catalog -------------------------------------------------------------------------------

    def sync(self, catalog: Catalog) -> SyncReport:
        """Bring the indexes in line with ``catalog``, embedding only new or changed products."""
        report = SyncReport()
        texts = {p.sku: product_text(p) for p in catalog.products}
        report.without_text = [s for s, t in texts.items() if not t.strip()]
        wanted = {s: _digest(t) for s, t in texts.items() if t.strip()}
        report.removed = [s for s in self.hashes if s not in wanted]
        for sku, digest in wanted.items():
            if sku not in self.hashes:
                report.added.append(sku)
            elif self.hashes[sku] != digest:
                report.updated.append(sku)
            else:
                report.unchanged += 1
        stale = report.removed + report.without_text
        changed = report.added + report.updated
        for index, embedder in zip(self.indexes, self.embedders, strict=True):
            index.remove(stale)
            if changed:
                index.upsert(changed, embedder.embed([texts[s] for s in changed]))
        if self.image_index is not None:
            self.image_index.remove(stale)
        for sku in stale:
            self.hashes.pop(sku, None)
        self.hashes.update({s: wanted[s] for s in changed})
        self.products = {p.sku: p for p in catalog.products}
        return report

    def save(self, directory: Path) -> None:
        for index, embedder in zip(self.indexes, self.embedders, strict=True):
            index.save(
                directory / _safe(embedder.name), {"embedder": embedder.name, "hashes": self.hashes}
            )

    def load(self, directory: Path) -> bool:
        """Load saved indexes made by the same embedders; False (and nothing changed) otherwise."""
        loaded = []
        for embedder in self.embedders:
            got = VectorIndex.load(
                directory / _safe(embedder.name), self.settings.index, embedder.name
            )
            if got is None or got[1].get("embedder") != embedder.name or got[0].dim != embedder.dim:
                return False
            loaded.append(got)
        hashes = [g[1]["hashes"] for g in loaded]
        if any(h != hashes[0] for h in hashes):
            return False
        self.indexes = [g[0] for g in loaded]
        self.hashes = dict(hashes[0])
        return True

    # -- image vectors (vision's embedder, wired by the capability) ----------------------------

    def set_image_vectors(self, vectors: dict[str, Matrix]) -> None:
        """Add or replace products' image vectors (all of one dim); unknown SKUs are refused."""
        unknown = [s for s in vectors if s not in self.products]
        if unknown:
            raise UnknownSku(f"no such products: {', '.join(unknown[:5])}")
        if not vectors:
            return
        mat = normalise(np.stack([np.asarray(v, np.float32).reshape(-1) for v in vectors.values()]))
        if self.image_index is None or self.image_index.dim != mat.shape[1]:
            self.image_index = VectorIndex(mat.shape[1], self.settings.index, "image")
        self.image_index.upsert(list(vectors), mat)

    def find_by_image(self, vector: Matrix, k: int = 3) -> list[tuple[Product, float]]:
        """Products whose image vectors are nearest a frame crop's vector (in-stock or not)."""
        if self.image_index is None or not len(self.image_index):
            raise RecommendBadInput("no product image vectors are indexed")
        hits = self.image_index.search(np.asarray(vector, np.float32).reshape(1, -1), k)[0]
        return [(self.products[s], score) for s, score in hits if s in self.products]

    # -- ranking -------------------------------------------------------------------------------

    def similar(self, sku: str, k: int = 5) -> list[tuple[str, float]]:
        index = self.indexes[0]
        if sku not in index:
            raise UnknownSku(f"unknown sku {sku!r}")
        hits = index.search(index.vector(sku)[None, :], k + 1)[0]
        return [(s, score) for s, score in hits if s != sku][:k]

    def recommend(
        self,
        query: str,
        *,
        user_id: str | None = None,
        stage_sku: str | None = None,
        activity: RoomActivity | None = None,
        k: int | None = None,
        intent: Ask | None = None,
    ) -> RecommendResult:
        """Rank in-stock products for a viewer's query; RecommendBadInput on absurd filters."""
        k = k or self.settings.top_k
        intent = intent or parse_ask(query, self.settings.usd_cny)
        if not self.products or not len(self.indexes[0]):
            return RecommendResult(items=[], intent=intent, note="the catalog is empty")
        stage = self.products.get(stage_sku) if stage_sku else None
        activity = activity or RoomActivity()
        hist = activity.history(user_id) if user_id else None
        hist_skus = [s for s in (hist.weights if hist else {}) if s in self.indexes[0]]
        w = self.settings.weights
        primary = self.indexes[0]
        q_vecs = [embed_queries(e, [query])[0] for e in self.embedders]

        cand: set[str] = {
            s for s, _ in primary.search(q_vecs[0][None, :], self.settings.candidates)[0]
        }
        if stage is not None and stage.sku in primary:
            cand |= {s for s, _ in self.similar(stage.sku, self.settings.candidates // 2)}
        for sku in hist_skus[-5:]:
            cand |= {s for s, _ in self.similar(sku, 10)}
        co = activity.co_engaged(hist_skus + ([stage.sku] if stage else []))
        cand |= co.keys() & self.products.keys()
        cand = {
            s for s in cand if s in primary and self._allowed(s, intent.price, stage, intent, hist)
        }
        if not cand:
            return RecommendResult(items=[], intent=intent, note=_empty_note(intent))
        skus = sorted(cand)
        vecs = np.stack([primary.vector(s) for s in skus])
        # the query score: the re-ranker's similarity when there is one, the primary's otherwise
        rank_index, rank_q = self.indexes[-1], q_vecs[-1]
        q_sim = np.array([float(rank_index.vector(s) @ rank_q) for s in skus])
        # a line like "推荐一下" says nothing about the product: lean on stage and history then
        w_query = w.query if len(query_content(query)) >= 2 else 0.1 * w.query
        score = w_query * minmax(q_sim)
        if stage is not None and stage.sku in primary:
            score += w.stage * np.clip(vecs @ primary.vector(stage.sku), 0, 1)
        hist_like: dict[str, str] = {}
        if hist_skus:
            hw = np.array([hist.weights[s] for s in hist_skus]) if hist else np.ones(0)
            sims = vecs @ np.stack([primary.vector(s) for s in hist_skus]).T
            score += w.history * np.clip((sims * hw).max(axis=1) / hw.max(), 0, 1)
            hist_like = {s: hist_skus[int(np.argmax(sims[i]))] for i, s in enumerate(skus)}
        score += w.co_engagement * np.array([co.get(s, 0.0) for s in skus])
        score += w.category * self._category_match(skus, query, intent, stage)
        cats = [self.products[x].category for x in skus]
        order = diverse(vecs, score, cats, k, w.diversity)
        items = []
        for i in order:
            product = self.products[skus[i]]
            co_with = (
                next(
                    (self.products[h] for h in hist_skus if activity.co_count(h, product.sku) > 0),
                    None,
                )
                if hist_skus
                else None
            )
            like = hist_like.get(product.sku)
            reason = build_reason(
                product,
                intent,
                query,
                stage=stage,
                co_with=co_with,
                history_like=self.products.get(like) if like and like in self.products else None,
            )
            title = (
                (product.title_en or product.title) if intent.language == "en" else product.title
            )
            items.append(
                RecommendedItem(
                    sku=product.sku,
                    title=title,
                    price=product.price,
                    score=round(float(score[i]), 4),
                    reason=reason,
                )
            )
        return RecommendResult(items=items, intent=intent)

    def _allowed(
        self, sku: str, price: PriceFilter, stage: Product | None, intent: Ask, hist: object
    ) -> bool:
        product = self.products.get(sku)
        if product is None or product.stock <= 0 or not price.accepts(product.price):
            return False
        if stage is not None and sku == stage.sku and intent.kind != "general":
            return False
        if intent.kind == "cheaper" and stage is not None and product.price >= stage.price:
            return False
        purchased = getattr(hist, "purchased", [])
        return sku not in purchased

    def _category_match(
        self, skus: list[str], query: str, intent: Ask, stage: Product | None
    ) -> Matrix:
        low = query.lower()
        asked = {c for c, words in CATEGORY_WORDS.items() if any(wd in low for wd in words)}
        asked |= {p.category for p in self.products.values() if p.category.lower() in low}
        if stage is not None and intent.kind in ("cheaper", "similar"):
            asked.add(stage.category)
        out = np.array(
            [1.0 if self.products[s].category in asked else 0.0 for s in skus], np.float32
        )
        if stage is not None and intent.kind == "complement":
            out = np.array(
                [0.0 if self.products[s].category == stage.category else 0.5 for s in skus],
                np.float32,
            )
        return out


def _empty_note(intent: Ask) -> str:
    if intent.price.active:
        lo, hi = intent.price.min_price, intent.price.max_price
        return f"no in-stock product in the price range {lo}–{hi} CNY"
    return "no in-stock product matches"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
