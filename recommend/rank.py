"""Score helpers for the re-rank: min-max scaling and maximal-marginal-relevance diversity."""

from __future__ import annotations

from assistant.embedders import Matrix


def minmax(values: Matrix) -> Matrix:
    lo, hi = float(values.min()), float(values.max())
    out: Matrix = (values - lo) / (hi - lo) if hi > lo else values * 0 + 1
    return out


def diverse(vecs: Matrix, score: Matrix, categories: list[str], k: int, lam: float) -> list[int]:
    """Pick k rows greedily, penalising near-duplicates and repeats of one category (MMR)."""
    chosen: list[int] = []
    remaining = list(range(len(categories)))
    while remaining and len(chosen) < k:

        def mmr(i: int) -> float:
            if not chosen:
                return float(score[i])
            sim = max(float(vecs[i] @ vecs[j]) for j in chosen)
            same = any(categories[i] == categories[j] for j in chosen)
            return float(score[i]) - lam * (sim + (0.5 if same else 0.0))

        best = max(remaining, key=mmr)
        chosen.append(best)
        remaining.remove(best)
    return chosen
