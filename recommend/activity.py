"""What a room's viewers did: per-viewer history and item co-engagement across viewers."""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from typing import Literal

from pydantic import BaseModel, Field

Action = Literal["asked", "view", "click", "cart", "purchase"]
ACTION_WEIGHT: dict[str, float] = {
    "asked": 1.0,
    "view": 0.5,
    "click": 1.0,
    "cart": 2.0,
    "purchase": 3.0,
}


class ViewerHistory(BaseModel):
    """A viewer's recent products with accumulated weights, newest last."""

    weights: dict[str, float] = Field(default_factory=dict)
    purchased: list[str] = Field(default_factory=list)


class RoomActivity:
    """Bounded per-viewer histories plus an item-item co-engagement count matrix."""

    def __init__(self, history_size: int = 50, max_viewers: int = 10_000) -> None:
        self.history_size = history_size
        self.max_viewers = max_viewers
        self._viewers: OrderedDict[str, ViewerHistory] = OrderedDict()
        self._co: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, user_id: str, sku: str, action: Action) -> None:
        """Add one engagement; co-engagement counts link it to the viewer's other products."""
        hist = self._viewers.pop(user_id, None) or ViewerHistory()
        self._viewers[user_id] = hist
        while len(self._viewers) > self.max_viewers:
            self._viewers.popitem(last=False)
        for other in hist.weights:
            if other != sku and sku not in hist.weights:
                self._co[sku][other] += 1
                self._co[other][sku] += 1
        weight = hist.weights.pop(sku, 0.0) + ACTION_WEIGHT[action]
        hist.weights[sku] = weight
        while len(hist.weights) > self.history_size:
            hist.weights.pop(next(iter(hist.weights)))
        if action == "purchase" and sku not in hist.purchased:
            hist.purchased.append(sku)

    def history(self, user_id: str) -> ViewerHistory:
        return self._viewers.get(user_id) or ViewerHistory()

    def co_engaged(self, skus: list[str]) -> dict[str, float]:
        """Co-engagement score of other products with ``skus``, scaled to [0, 1]."""
        total: Counter[str] = Counter()
        for sku in skus:
            total.update(self._co.get(sku, Counter()))
        for sku in skus:
            total.pop(sku, None)
        top = max(total.values(), default=0)
        return {s: c / top for s, c in total.items()} if top else {}

    def co_count(self, a: str, b: str) -> int:
        return self._co.get(a, Counter()).get(b, 0)

    def forget(self, skus: set[str]) -> None:
        """Drop products that left the catalog from every history and count."""
        for hist in self._viewers.values():
            for sku in skus & hist.weights.keys():
                del hist.weights[sku]
        for sku in skus:
            self._co.pop(sku, None)
        for counts in self._co.values():
            for sku in skus & counts.keys():
                del counts[sku]

    def dump(self) -> dict[str, object]:
        return {
            "viewers": {u: h.model_dump() for u, h in self._viewers.items()},
            "co": {s: dict(c) for s, c in self._co.items()},
        }

    @classmethod
    def restore(cls, body: dict[str, object], history_size: int = 50) -> RoomActivity:
        self = cls(history_size)
        viewers = body.get("viewers", {})
        co = body.get("co", {})
        if isinstance(viewers, dict):
            for user, hist in viewers.items():
                self._viewers[str(user)] = ViewerHistory.model_validate(hist)
        if isinstance(co, dict):
            for sku, counts in co.items():
                if isinstance(counts, dict):
                    self._co[str(sku)] = Counter({str(k): int(v) for k, v in counts.items()})
        return self
