"""The anchor's product rotation: smooth weighted round robin, pinned products featured."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from assistant.events import ScheduleItem


class PlaylistState(BaseModel):
    items: list[ScheduleItem] = []
    current: dict[str, float] = {}
    pinned_turn: int = 0
    last: str | None = None
    turn: int = 0


class Playlist:
    """Pinned products come up every other turn (in turn); the rest rotate by weight.

    With no schedule set, every catalog product rotates with weight 1. SKUs missing from the
    catalog are skipped, and the same product never comes twice in a row if there is another.
    """

    def __init__(self, catalog: list[str], state: dict[str, Any] | None = None) -> None:
        self.catalog = list(catalog)
        self.state = PlaylistState.model_validate(state or {})

    def set_catalog(self, skus: list[str]) -> None:
        self.catalog = list(skus)

    def set_items(self, items: list[ScheduleItem]) -> None:
        self.state.items = list(items)
        self.state.current = {}
        self.state.pinned_turn = 0

    def items(self) -> list[ScheduleItem]:
        known = set(self.catalog)
        chosen = [i for i in self.state.items if i.sku in known]
        return chosen or [ScheduleItem(sku=s) for s in self.catalog]

    def next(self) -> str | None:
        items = self.items()
        if not items:
            return None
        pinned = [i for i in items if i.pinned]
        rest = [i for i in items if not i.pinned] or pinned
        st = self.state
        st.turn += 1
        if pinned and rest is not pinned and st.turn % 2 == 1:
            sku = self._pinned(pinned)
        else:
            sku = self._weighted(rest)
        st.last = sku
        return sku

    def _pinned(self, pinned: list[ScheduleItem]) -> str:
        st = self.state
        for _ in range(len(pinned)):
            sku = pinned[st.pinned_turn % len(pinned)].sku
            st.pinned_turn += 1
            if sku != st.last or len(pinned) == 1:
                return sku
        return pinned[0].sku

    def _weighted(self, items: list[ScheduleItem]) -> str:
        st = self.state
        live = {i.sku for i in items}
        st.current = {k: v for k, v in st.current.items() if k in live}
        total = sum(i.weight for i in items)
        best: ScheduleItem | None = None
        for _ in range(2):
            for item in items:
                st.current[item.sku] = st.current.get(item.sku, 0.0) + item.weight
            ranked = sorted(items, key=lambda i: st.current[i.sku], reverse=True)
            best = ranked[0]
            if best.sku == st.last and len(ranked) > 1:
                best = ranked[1]
            st.current[best.sku] -= total
            if best.sku != st.last or len(items) == 1:
                break
        assert best is not None
        return best.sku

    def dump(self) -> dict[str, Any]:
        return self.state.model_dump(mode="json")
