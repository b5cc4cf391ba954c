"""Offline interaction benchmark on MovieLens-100k: popularity, FAISS item-kNN and the hybrid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from recommend.errors import RecommendBackendUnavailable
from recommend.index import _faiss
from recommend.install import INSTALL_COMMAND, installed, ml100k_dir

F = npt.NDArray[np.float64]


class Split(BaseModel):
    """Leave-last-out: every user's latest interaction is held out, the rest is training."""

    model_config = {"arbitrary_types_allowed": True}

    n_users: int
    n_items: int
    train: list[list[int]]  # per user, item indices in time order
    test: list[int]  # per user, the held-out item


class Metrics(BaseModel):
    hit_rate: float
    ndcg: float
    users: int


def load_ml100k(cache: Path) -> Split:
    if not installed(cache):
        raise RecommendBackendUnavailable(
            f"MovieLens-100k is not in {cache}: run `{INSTALL_COMMAND}`"
        )
    rows = np.loadtxt(ml100k_dir(cache) / "ml-100k.inter", skiprows=1, dtype=np.int64)
    users, u_idx = np.unique(rows[:, 0], return_inverse=True)
    items, i_idx = np.unique(rows[:, 1], return_inverse=True)
    order = np.lexsort((np.arange(len(rows)), rows[:, 3], u_idx))
    seqs: list[list[int]] = [[] for _ in range(len(users))]
    for r in order:
        seqs[int(u_idx[r])].append(int(i_idx[r]))
    return Split(
        n_users=len(users),
        n_items=len(items),
        train=[s[:-1] for s in seqs],
        test=[s[-1] for s in seqs],
    )


def evaluate(scores: F, split: Split, k: int = 10) -> Metrics:
    """Hit rate@k and NDCG@k over all unseen items (full ranking, training items masked)."""
    hits, gains = 0, 0.0
    for u in range(split.n_users):
        row = scores[u].copy()
        row[split.train[u]] = -np.inf
        target = row[split.test[u]]
        rank = int((row > target).sum())
        if rank < k:
            hits += 1
            gains += 1.0 / np.log2(rank + 2)
    return Metrics(hit_rate=hits / split.n_users, ndcg=gains / split.n_users, users=split.n_users)


def _matrix(split: Split, weights: list[list[float]] | None = None) -> F:
    m = np.zeros((split.n_users, split.n_items))
    for u, seq in enumerate(split.train):
        for p, i in enumerate(seq):
            m[u, i] = max(m[u, i], weights[u][p] if weights else 1.0)
    return m


def popularity(split: Split) -> F:
    pop = _matrix(split).sum(axis=0)
    return np.tile(pop, (split.n_users, 1))


def item_neighbours(split: Split, k: int = 100) -> F:
    """Item-item cosine similarity on co-engagement vectors, top-k per item, found with FAISS."""
    faiss = _faiss()
    vecs = _matrix(split).T.astype(np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(vecs)
    sims, ids = index.search(vecs, min(k + 1, split.n_items))
    out = np.zeros((split.n_items, split.n_items))
    for i in range(split.n_items):
        keep = ids[i] >= 0
        out[i, ids[i][keep]] = sims[i][keep]
        out[i, i] = 0.0
    return out


def item_knn(split: Split, neighbours: F) -> F:
    return _matrix(split) @ neighbours


def hybrid(split: Split, neighbours: F, *, half_life: float = 10.0, pop_weight: float = 0.1) -> F:
    """Recency-weighted history x co-engagement neighbours, plus a popularity prior.

    The same signals as the live recommender: a viewer's recent engagement counts more, items
    engaged together across viewers are neighbours, and popularity breaks ties for thin histories.
    """
    weights = [
        [0.5 ** ((len(seq) - 1 - p) / half_life) for p in range(len(seq))] for seq in split.train
    ]
    scores = _matrix(split, weights) @ neighbours
    scores /= np.maximum(scores.max(axis=1, keepdims=True), 1e-12)
    pop = _matrix(split).sum(axis=0)
    out: F = scores + pop_weight * pop / pop.max()
    return out


def validation(split: Split) -> Split:
    """Hold out each user's second-to-last item instead, for choosing hyper-parameters."""
    return Split(
        n_users=split.n_users,
        n_items=split.n_items,
        train=[seq[:-1] for seq in split.train],
        test=[seq[-1] for seq in split.train],
    )


def tune_hybrid(split: Split, k: int = 10) -> tuple[float, float]:
    """Pick (half_life, pop_weight) by NDCG@k on the validation split; the test item is unseen."""
    val = validation(split)
    nb = item_neighbours(val)
    grid = [(h, p) for h in (1.0, 2.0, 3.0, 5.0, 10.0) for p in (0.0, 0.05)]
    return max(
        grid,
        key=lambda hp: evaluate(hybrid(val, nb, half_life=hp[0], pop_weight=hp[1]), val, k).ndcg,
    )


def run_all(cache: Path, k: int = 10) -> dict[str, Metrics]:
    split = load_ml100k(cache)
    half_life, pop_weight = tune_hybrid(split, k)
    neighbours = item_neighbours(split)
    return {
        "popularity": evaluate(popularity(split), split, k),
        "item_knn_faiss": evaluate(item_knn(split, neighbours), split, k),
        "hybrid": evaluate(
            hybrid(split, neighbours, half_life=half_life, pop_weight=pop_weight), split, k
        ),
    }
