"""FAQ retrieval: the recommend embedder when installed, else a character n-gram retriever."""

from __future__ import annotations

import importlib
import logging
import math
from collections import Counter
from difflib import SequenceMatcher
from typing import Any, Protocol

from pydantic import BaseModel

from assistant.catalog import Catalog, FaqItem

log = logging.getLogger(__name__)


class FaqHit(BaseModel):
    sku: str
    item: FaqItem
    score: float


class Retriever(Protocol):
    name: str

    def index(self, catalog: Catalog) -> None: ...

    def search(self, query: str, sku: str | None, k: int = 1) -> list[FaqHit]: ...


def _grams(text: str) -> Counter[str]:
    text = "".join(ch for ch in text.casefold() if ch.isalnum())
    grams: Counter[str] = Counter()
    for n in (1, 2, 3):
        grams.update(text[i : i + n] for i in range(len(text) - n + 1))
    return grams


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


class _Base:
    def __init__(self) -> None:
        self._items: list[tuple[str, FaqItem]] = []

    def _candidates(self, sku: str | None) -> list[int]:
        return [i for i, (s, _) in enumerate(self._items) if sku is None or s == sku]


class LexicalRetriever(_Base):
    """Character 1-3-gram cosine over FAQ questions: no model, works for zh and en."""

    name = "lexical"

    def index(self, catalog: Catalog) -> None:
        items = [(p.sku, f) for p in catalog.products for f in p.faq]
        # Searches run in other threads while a new catalog is indexed: swap both at once.
        self._items, self._vecs = items, [_grams(f.q) for _, f in items]

    def search(self, query: str, sku: str | None, k: int = 1) -> list[FaqHit]:
        q = _grams(query)
        scored = [(_cosine(q, self._vecs[i]), i) for i in self._candidates(sku)]
        scored.sort(reverse=True)
        return [
            FaqHit(sku=self._items[i][0], item=self._items[i][1], score=s) for s, i in scored[:k]
        ]


class EmbeddingRetriever(_Base):
    """Cosine over normalised sentence embeddings from ``recommend.embedders``."""

    def __init__(self, embedder: Any, name: str) -> None:
        super().__init__()
        self.embedder = embedder
        self.name = f"embedder:{name}"
        self._matrix: Any = None

    def index(self, catalog: Catalog) -> None:
        items = [(p.sku, f) for p in catalog.products for f in p.faq]
        matrix = self.embedder.embed([f.q for _, f in items]) if items else None
        # Searches run in other threads while a new catalog is indexed: swap both at once.
        self._items, self._matrix = items, matrix

    def search(self, query: str, sku: str | None, k: int = 1) -> list[FaqHit]:
        idx = self._candidates(sku)
        if not idx or self._matrix is None:
            return []
        qv = self.embedder.embed([query])[0]
        scores = self._matrix[idx] @ qv
        order = sorted(range(len(idx)), key=lambda j: -float(scores[j]))[:k]
        return [
            FaqHit(sku=self._items[idx[j]][0], item=self._items[idx[j]][1], score=float(scores[j]))
            for j in order
        ]


def without_name(question: str, title: str) -> str:
    """Drop the product's name from a question: the FAQ is already that product's, and the name
    would otherwise outweigh the few words that say what is asked ("…保温杯发什么快递")."""
    match = SequenceMatcher(None, question, title).find_longest_match()
    if match.size < 3 or match.size == len(question):
        return question
    return question[: match.a] + question[match.a + match.size :]


def load_embedder(name: str, settings: Any) -> Any | None:
    """``recommend.embedders.create_embedder(name, settings)``; None means the lexical retriever."""
    if name in ("", "lexical"):
        return None
    try:
        module = importlib.import_module("recommend.embedders")
        return module.create_embedder(name, settings)
    except Exception as exc:  # recommend not installed or its model missing: say so, carry on
        log.warning("FAQ retrieval falls back to the lexical retriever: %s", exc)
        return None


def create_retriever(embedder: Any | None, name: str = "lexical") -> Retriever:
    """A per-room retriever over a shared embedder (or character n-grams without one)."""
    return LexicalRetriever() if embedder is None else EmbeddingRetriever(embedder, name)
