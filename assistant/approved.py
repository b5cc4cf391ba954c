"""Scripts the host approved, per product: the anchor speaks them verbatim in rotation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from assistant.store import Store

STATE_KEY = "approved_scripts"


class ApprovedScript(BaseModel):
    request_id: str
    text: str


class Approved(BaseModel):
    """Approved scripts by sku, oldest first; kept in the store's room state."""

    by_sku: dict[str, list[ApprovedScript]] = {}

    @classmethod
    async def load(cls, store: Store, room_id: str) -> Approved:
        return cls.model_validate(await store.state(room_id, STATE_KEY) or {})

    async def save(self, store: Store, room_id: str) -> None:
        await store.put_state(room_id, STATE_KEY, self.model_dump(mode="json"))

    def set(self, sku: str, script: ApprovedScript, approved: bool) -> None:
        kept = [s for s in self.by_sku.get(sku, []) if s.request_id != script.request_id]
        self.by_sku[sku] = [*kept, script] if approved else kept

    def pick(self, sku: str, turn: int) -> ApprovedScript | None:
        scripts = self.by_sku.get(sku, [])
        return scripts[turn % len(scripts)] if scripts else None
