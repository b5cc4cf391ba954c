"""The capability on a MemoryBus: chat in, a Recommendation for that viewer out; events feed it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from assistant.bus import Subscription
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.errors import BackendUnavailable
from assistant.events import (
    CatalogUpdated,
    Chat,
    ChatTriaged,
    Engagement,
    Recommendation,
    StageInfo,
    StageSet,
    User,
    VisionUpdate,
)
from assistant.plugins import RoomInfo, Services
from assistant.settings import Settings
from assistant.stage import StageOwner
from assistant.store import SqliteStore
from assistant.understand.service import Understander
from assistant.understand.settings import UnderstandSettings
from recommend.capability import STATE_KEY, RecommendCapability, create
from recommend.settings import RecommendSettings
from tests.fakes.recommend_embedders import HashingEmbedder
from tests.services import core_services
from tests.waits import until

ROOM = "room1"


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[tuple[Services, StageOwner]]:
    bus = MemoryBus()
    store = SqliteStore(tmp_path / "db.sqlite3")
    services, stage = core_services(Settings(), bus, store)
    yield services, stage
    stage.close()
    await bus.close()
    await store.close()


@pytest.fixture
def services(core: tuple[Services, StageOwner]) -> Services:
    return core[0]


def _cap(services: Services, settings: RecommendSettings) -> RecommendCapability:
    return RecommendCapability(services, models=(HashingEmbedder(), None, None), settings=settings)


def _info(catalog: Catalog) -> RoomInfo:
    return RoomInfo(room_id=ROOM, title="t", mode="host", language="zh", catalog=catalog)


async def _say(services: Services, user: str, text: str) -> Chat:
    """A viewer's line as triage passes it on: read once by the understanding step."""
    chat = Chat(room_id=ROOM, user=User(id=user, name=user), text=text)
    understander = Understander(
        UnderstandSettings(embedder="none"), services.bus, services.stage, services.embedders
    )
    understood = await understander.read(chat)
    understander.close()
    await services.bus.publish(ChatTriaged(room_id=ROOM, chat=chat, understanding=understood))
    return chat


async def _ask(services: Services, sub: Subscription, user: str, text: str) -> Recommendation:
    chat = await _say(services, user, text)
    event = await asyncio.wait_for(sub.get(), 10)
    assert isinstance(event, Recommendation) and event.chat_id == chat.id
    return event


async def test_chat_gets_a_recommendation_for_that_viewer(
    services: Services, settings: RecommendSettings, catalog: Catalog
) -> None:
    cap = _cap(services, settings)
    await cap.open_room(_info(catalog))
    await cap.ready(ROOM)
    sub = await services.bus.subscribe(ROOM, ["recommendation"])
    await _say(services, "v0", "主播好漂亮")
    rec = await _ask(services, sub, "v1", "100元以内的保温杯推荐一下")
    assert rec.target_user == "v1" and rec.items
    assert all(i.price <= 100 for i in rec.items)
    assert rec.visible_to("viewer", "v1") and not rec.visible_to("viewer", "v2")
    absurd = await _ask(services, sub, "v1", "0元以内的推荐")
    assert absurd.items == []
    await cap.close()
    assert all(s.task is None or s.task.done() for s in cap._rooms.values())


async def test_stage_from_stage_set_and_vision(
    core: tuple[Services, StageOwner], settings: RecommendSettings, catalog: Catalog
) -> None:
    services, owner = core
    cap = _cap(services, settings)
    await owner.open_room(_info(catalog))
    await cap.open_room(_info(catalog))
    await cap.ready(ROOM)
    sub = await services.bus.subscribe(ROOM, ["recommendation"])
    vision = VisionUpdate(
        room_id=ROOM,
        frame_id="f",
        width=1,
        height=1,
        stage=StageInfo(sku="FD-TEA-LJ-250", confidence=0.9),
    )
    await services.bus.publish(vision)
    await until(lambda: owner.sku(ROOM) == "FD-TEA-LJ-250")
    tea = await _ask(services, sub, "v1", "有没有便宜点的")
    assert tea.items and all(i.price < 268 for i in tea.items)
    assert tea.items[0].sku.startswith("FD-")  # same category as the tea on stage
    await services.bus.publish(StageSet(room_id=ROOM, sku="HM-CUP-316-500"))  # pin overrides vision
    await until(lambda: owner.sku(ROOM) == "HM-CUP-316-500")
    cup = await _ask(services, sub, "v1", "有没有便宜点的")
    assert cup.items[0].sku == "HM-CUP-304-350"
    assert "便宜" in cup.items[0].reason
    await cap.close()


async def test_engagement_history_persists_and_catalog_updates_apply(
    services: Services, settings: RecommendSettings, catalog: Catalog
) -> None:
    cap = _cap(services, settings)
    await cap.open_room(_info(catalog))
    await cap.ready(ROOM)
    sub = await services.bus.subscribe(ROOM, ["recommendation"])
    user = User(id="v9", name="v")
    await services.bus.publish(Engagement(room_id=ROOM, user=user, sku="NOPE-1"))  # ignored
    for action in ("view", "click", "cart"):
        await services.bus.publish(
            Engagement(room_id=ROOM, user=user, sku="BB-DIAPER-L-54", action=action)
        )
    first = await _ask(services, sub, "v9", "推荐一下")
    assert any(i.sku.startswith("BB-") for i in first.items)
    kept = [p for p in catalog.products if not p.sku.startswith("BB-")]
    await services.bus.publish(CatalogUpdated(room_id=ROOM, products=kept))
    after = await _ask(services, sub, "v9", "推荐一下宝宝用的")
    assert after.items and not any(i.sku.startswith("BB-") for i in after.items)
    await cap.close()
    saved = await services.store.state(ROOM, STATE_KEY)
    assert saved is not None and "v9" in saved["viewers"]
    assert (settings.index_dir / ROOM).is_dir()

    again = _cap(replace(services, registry=CollectorRegistry()), settings)
    await again.open_room(_info(Catalog(products=kept)))
    rec = await again.ready(ROOM)
    assert rec.embedders[0].texts_embedded == 0  # type: ignore[attr-defined]
    await again.close()


def test_create_builds_the_capability(services: Services) -> None:
    cap = create(services)
    assert cap.name == "recommend" and cap.router() is None


async def test_missing_model_fails_the_room_clearly(
    services: Services, settings: RecommendSettings, catalog: Catalog, tmp_path: Path
) -> None:
    broken = settings.model_copy(update={"embedder": "sentence-transformers"})
    services.embedders.st_model_path = tmp_path / "missing"
    cap = RecommendCapability(services, settings=broken)
    await cap.open_room(_info(catalog))
    with pytest.raises(BackendUnavailable, match="missing"):
        await cap.ready(ROOM)
    await cap.close()
