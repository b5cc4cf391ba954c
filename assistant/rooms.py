"""Room lifecycle: per-role tokens, catalog replacement, and opening rooms in capabilities."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.catalog import Catalog, ShopInfo
from assistant.events import CatalogUpdated, Role
from assistant.live import LiveView
from assistant.plugins import Capability, RoomInfo, Services
from assistant.recover import GapRecovery
from assistant.stage import StageOwner
from assistant.store import RoomRecord
from assistant.triage import Triage
from assistant.understand.service import Understander


class RoomCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    mode: Literal["host", "anchor"] = "host"
    language: Literal["zh", "en"] = "zh"


class RoomCreated(BaseModel):
    room_id: str
    tokens: dict[Role, str]


class Rooms:
    def __init__(
        self,
        services: Services,
        triage: Triage,
        live: LiveView,
        stage: StageOwner,
        understander: Understander,
        capabilities: list[Capability],
        recovery: GapRecovery,
    ) -> None:
        self.services = services
        self.triage = triage
        self.live = live
        self.stage = stage
        self.understander = understander
        self.capabilities = capabilities
        self.recovery = recovery
        self._opened: set[str] = set()
        self._opening = asyncio.Lock()

    async def open_all(self) -> None:
        for record in await self.services.store.rooms():
            await self._open(record)

    async def ensure_open(self, room_id: str) -> None:
        """Serve a room another instance created since this one started (they share a
        store): it opens here when a client first reaches it here."""
        if room_id in self._opened:
            return
        async with self._opening:
            if room_id not in self._opened:
                await self._open(await self.services.store.room(room_id))

    async def create(self, spec: RoomCreate, catalog: Catalog | None = None) -> RoomCreated:
        record = RoomRecord(
            room_id=uuid.uuid4().hex[:12],
            title=spec.title,
            mode=spec.mode,
            language=spec.language,
            created=time.time(),
        )
        roles: tuple[Role, ...] = ("host", "viewer", "anchor")
        tokens: dict[Role, str] = {role: secrets.token_urlsafe(24) for role in roles}
        await self.services.store.create_room(record, tokens)
        if catalog is not None:
            await self.services.store.put_catalog(record.room_id, catalog)
        await self._open(record)
        return RoomCreated(room_id=record.room_id, tokens=tokens)

    async def put_catalog(self, room_id: str, catalog: Catalog) -> None:
        """Replace the products; the shop facts too when the upload carries them (else kept)."""
        await self.services.store.room(room_id)
        if "shop" not in catalog.model_fields_set:
            old = await self.services.store.catalog(room_id)
            catalog = Catalog(products=catalog.products, shop=old.shop)
        await self._apply(room_id, catalog)

    async def put_shop(self, room_id: str, shop: ShopInfo) -> None:
        await self.services.store.room(room_id)
        old = await self.services.store.catalog(room_id)
        await self._apply(room_id, Catalog(products=old.products, shop=shop))

    async def _apply(self, room_id: str, catalog: Catalog) -> None:
        await self.services.store.put_catalog(room_id, catalog)
        await self.services.bus.publish(
            CatalogUpdated(room_id=room_id, products=catalog.products, shop=catalog.shop)
        )

    async def _open(self, record: RoomRecord) -> None:
        info = RoomInfo(
            room_id=record.room_id,
            title=record.title,
            mode=record.mode,
            language=record.language,
            catalog=await self.services.store.catalog(record.room_id),
        )
        await self.live.open_room(info)
        await self.recovery.open_room(info)
        await self.stage.open_room(info)
        await self.understander.open_room(info)
        await self.triage.restore(record.room_id)
        for capability in self.capabilities:
            await capability.open_room(info)
        self._opened.add(record.room_id)
