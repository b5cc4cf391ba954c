"""Per-room context the answerer and the script writer share: catalog, stage product, vision."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.answers.retrieval import Retriever
from assistant.catalog import Catalog, Product
from assistant.events import VisionUpdate


@dataclass
class RoomContext:
    room_id: str
    language: str
    catalog: Catalog
    retriever: Retriever
    stage_sku: str | None = None
    stage_pinned: bool = False
    vision: VisionUpdate | None = None
    history: list[str] = field(default_factory=list)

    def set_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.retriever.index(catalog)

    def on_vision(self, update: VisionUpdate) -> None:
        self.vision = update
        if not self.stage_pinned and update.stage.sku is not None:
            self.stage_sku = update.stage.sku

    def on_stage(self, sku: str | None) -> None:
        self.stage_sku = sku
        self.stage_pinned = sku is not None

    @property
    def stage_product(self) -> Product | None:
        return self.catalog.get(self.stage_sku) if self.stage_sku else None
