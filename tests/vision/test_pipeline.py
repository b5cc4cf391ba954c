"""The live pipeline on a MemoryBus: debounce, price warnings, pins, catalog, fairness."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from assistant.bus import Subscription
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog, Product
from assistant.events import CatalogUpdated, Frame, StageSet, VisionUpdate
from assistant.plugins import RoomInfo
from assistant.settings import Settings
from assistant.stage import StageOwner
from assistant.store import RoomRecord, SqliteStore
from tests.services import core_services
from tests.vision.conftest import png, render_frame, sk
from tests.waits import until
from vision.backends import Models
from vision.capability import VisionCapability

pytestmark = pytest.mark.slow
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo_catalog.json"
SERUM = "BT-SERUM-HA-30"


def demo_products() -> list[Product]:
    raw = json.loads(DEMO.read_text())
    items = raw["products"] if isinstance(raw, dict) else raw
    return [Product.model_validate(p) for p in items][:16]


@pytest.fixture
async def rig(tmp_path: Path, models: Models) -> AsyncIterator[tuple[VisionCapability, StageOwner]]:
    bus = MemoryBus()
    store = SqliteStore(tmp_path / "s.sqlite3")
    services, stage = core_services(Settings(model_dir=models.model_dir.parent), bus, store)
    cap = VisionCapability(services, models.settings, models)
    yield cap, stage
    await cap.close()
    stage.close()
    await bus.close()
    await store.close()


@pytest.fixture
def vision(rig: tuple[VisionCapability, StageOwner]) -> VisionCapability:
    return rig[0]


async def open_room(
    cap: VisionCapability, room_id: str, products: list[Product], stage: StageOwner | None = None
) -> Subscription:
    updates = await cap.services.bus.subscribe(room_id, ["vision.update"])
    info = RoomInfo(
        room_id=room_id, title="t", mode="host", language="zh", catalog=Catalog(products=products)
    )
    if stage is not None:
        await stage.open_room(info)
    await cap.open_room(info)
    return updates


async def send(
    cap: VisionCapability, room_id: str, frame: bytes, updates: Subscription
) -> VisionUpdate:
    event = Frame(room_id=room_id, data=frame)
    await cap.services.bus.publish(event)
    update = await asyncio.wait_for(updates.get(), 60)
    assert isinstance(update, VisionUpdate)
    assert update.frame_id == event.id
    return update


async def test_debounce_new_product_and_price_warning(vision: VisionCapability) -> None:
    updates = await open_room(vision, "r1", demo_products())
    frame = png(render_frame(["玻尿酸保湿精华液 30ml", "直播价 ¥199"]))
    first = await send(vision, "r1", frame, updates)
    assert first.stage.sku is None  # seen once: not on stage yet (stable_passes=2)
    assert any("精华液" in line for line in first.ocr_lines)
    assert first.counts.get("cup", 0) >= 1
    assert (first.width, first.height) == (1280, 720)
    second = await send(vision, "r1", frame, updates)
    assert second.stage.sku == SERUM and not second.stage.pinned
    assert second.new_product is True
    assert 0 < second.stage.confidence <= 1
    assert second.price_mismatch is not None
    assert second.price_mismatch.screen_price == 199.0
    assert second.price_mismatch.catalog_price == 229.0
    third = await send(vision, "r1", frame, updates)
    assert third.stage.sku == SERUM and third.new_product is False
    right_price = png(render_frame(["玻尿酸保湿精华液 30ml", "直播价 ¥229"]))
    assert (await send(vision, "r1", right_price, updates)).price_mismatch is None


async def test_host_pin_overrides_vision(rig: tuple[VisionCapability, StageOwner]) -> None:
    vision, stage = rig
    updates = await open_room(vision, "r2", demo_products(), stage)
    bus = vision.services.bus
    await bus.publish(StageSet(room_id="r2", sku="HM-CUP-316-500"))
    await until(lambda: stage.sku("r2") == "HM-CUP-316-500")
    frame = png(render_frame(["玻尿酸保湿精华液 30ml"]))
    for _ in range(2):
        update = await send(vision, "r2", frame, updates)
        assert update.stage.sku == "HM-CUP-316-500" and update.stage.pinned
        assert update.new_product is False
    await bus.publish(StageSet(room_id="r2", sku=None))
    await until(lambda: (current := stage.current("r2")) is not None and current.source != "pin")
    update = await send(vision, "r2", frame, updates)
    assert update.stage.sku == SERUM and not update.stage.pinned


async def test_catalog_update_and_image_match(vision: VisionCapability) -> None:
    updates = await open_room(vision, "r3", [])
    frame = png(render_frame([]))  # the coffee photo only: no text to match on
    assert (await send(vision, "r3", frame, updates)).stage.sku is None
    cup = base64.b64encode(png(sk("coffee")[0:260, 150:430])).decode()
    product = Product(
        sku="MUG-1",
        title="Espresso set",
        price=59,
        stock=3,
        category="home",
        image="data:image/png;base64," + cup,
    )
    await vision.services.bus.publish(CatalogUpdated(room_id="r3", products=[product]))
    for _ in range(200):  # the matcher is rebuilt in the worker pool after the products change
        matcher = vision.rooms["r3"].matcher
        if matcher is not None and matcher.has_images:
            break
        await asyncio.sleep(0.05)
    await send(vision, "r3", frame, updates)
    update = await send(vision, "r3", frame, updates)
    assert update.stage.sku == "MUG-1"
    assert update.stage.confidence >= vision.settings.stage_min_confidence


async def test_latest_wins_fair_across_rooms(vision: VisionCapability) -> None:
    rooms = [f"f{i}" for i in range(4)]
    subs = {r: await open_room(vision, r, []) for r in rooms}
    frame = png(render_frame(["Hello"]))
    last: dict[str, str] = {}
    for _ in range(6):
        for r in rooms:
            event = Frame(room_id=r, data=frame)
            last[r] = event.id
            await vision.services.bus.publish(event)
    for r in rooms:
        got: list[VisionUpdate] = []
        while not got or got[-1].frame_id != last[r]:
            update = await asyncio.wait_for(subs[r].get(), 120)
            assert isinstance(update, VisionUpdate)
            got.append(update)
        assert len(got) <= 2  # the first frame taken, then only the newest: no backlog
    assert all(state.pending is None for state in vision.rooms.values())


async def test_bad_frame_is_skipped(vision: VisionCapability) -> None:
    updates = await open_room(vision, "r5", [])
    await vision.services.bus.publish(Frame(room_id="r5", data=b"\xff\xd8 not a jpeg"))

    def failed() -> float:
        return vision.services.registry.get_sample_value("vision_pass_failures_total") or 0.0

    await until(lambda: failed() > 0, timeout=30)  # that pass ended before the next frame
    good = await send(vision, "r5", png(render_frame([])), updates)
    assert good.width == 1280
    assert failed() == 1


async def test_capability_router_serves_a_rooms_host_only(vision: VisionCapability) -> None:
    room = RoomRecord(room_id="r9", title="t", mode="host", language="zh", created=0.0)
    await vision.services.store.create_room(room, {"host": "host-secret", "viewer": "seen-by-all"})
    app = FastAPI()
    app.include_router(vision.router())
    body = {"image": base64.b64encode(png(sk("chelsea"))).decode()}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
        statuses = []
        for token in (None, "seen-by-all", "host-secret"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            resp = await c.post("/v1/vision/detection", json=body, headers=headers)
            statuses.append(resp.status_code)
    assert statuses == [401, 401, 200]
    assert "cat" in resp.json()["detection_class_names"]
