"""Per-room context the answerer and the script writer share: catalog, stage product, vision."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from assistant.answers.retrieval import FaqHit, Retriever
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
    indexing: asyncio.Future[None] | None = None

    def set_catalog(self, catalog: Catalog) -> None:
        self.retriever.index(catalog)
        self.catalog = catalog

    async def update_catalog(self, catalog: Catalog) -> None:
        """Facts switch to the new catalog at once; FAQ searches wait for its index."""
        self.catalog = catalog
        self.indexing = asyncio.ensure_future(asyncio.to_thread(self.retriever.index, catalog))
        await self.indexing

    async def search_faq(self, query: str, sku: str | None) -> list[FaqHit]:
        if self.indexing is not None:
            await self.indexing
        return await asyncio.to_thread(self.retriever.search, query, sku, 1)

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
