"""Per-room context the answerer and the script writer share: catalog, language, vision."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.catalog import Catalog, Product
from assistant.events import VisionUpdate
from assistant.plugins import StageView


@dataclass
class RoomContext:
    room_id: str
    language: str
    catalog: Catalog
    stage: StageView
    vision: VisionUpdate | None = None

    @property
    def stage_product(self) -> Product | None:
        """The product on stage as the core's one stage owner has it."""
        sku = self.stage.sku(self.room_id)
        return self.catalog.get(sku) if sku else None
