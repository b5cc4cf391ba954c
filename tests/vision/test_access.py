"""Who may call the vision API, how often, and with how much: refused before any decoding."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from pydantic import SecretStr

from assistant.access import Limiter
from assistant.settings import LimitSettings
from assistant.store import RoomRecord, SqliteStore
from tests.vision.conftest import model_dir
from vision.api import VisionAccess, build_router
from vision.engine import VisionEngine
from vision.settings import VisionSettings

SERVICE = "vision-service-token"
TINY = base64.b64encode(b"not decoded").decode()


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The router with lazy models: nothing these tests send gets as far as a model."""
    settings = VisionSettings(api_token=SecretStr(SERVICE), max_images_per_request=4)
    engine = VisionEngine(settings, model_dir())
    store = SqliteStore(tmp_path / "s.sqlite3")
    room = RoomRecord(room_id="r1", title="t", mode="host", language="zh", created=0.0)
    await store.create_room(room, {"host": "host-1", "viewer": "viewer-1", "anchor": "anchor-1"})
    limiter = Limiter(LimitSettings(vision_per_token="3/minute"), "")
    app = FastAPI()
    app.include_router(build_router(engine, VisionAccess(settings, store, limiter)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
    engine.close()
    await store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [{}, bearer("viewer-1"), bearer("anchor-1"), bearer("x")])
async def test_no_host_or_service_token_is_refused(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    resp = await http.post("/v1/vision/detection", json={"image": TINY}, headers=headers)
    assert resp.status_code == 401
    assert resp.json()["success"] is False and resp.json()["error_code"] == 401


async def test_each_token_is_limited_on_its_own(http: httpx.AsyncClient) -> None:
    async def status(token: str) -> int:
        return (await http.post("/v1/vision/nope", json={}, headers=bearer(token))).status_code

    service = [await status(SERVICE) for _ in range(4)]
    host = [await status("host-1") for _ in range(4)]
    assert service == host == [404, 404, 404, 429]


async def test_too_many_images_in_one_request_are_refused(http: httpx.AsyncClient) -> None:
    products = [{"sku": f"S{i}", "image": TINY} for i in range(4)]
    resp = await http.post(
        "/v1/vision/shelf_count",
        json={"image": TINY, "products": products},
        headers=bearer(SERVICE),
    )
    assert resp.status_code == 413 and "at most 4 images" in resp.json()["error_msg"]


async def test_a_huge_image_is_refused_from_its_header(http: httpx.AsyncClient) -> None:
    buf = io.BytesIO()
    Image.new("L", (5000, 5000)).save(buf, format="PNG")  # 25 MP, a few KB on the wire
    image = base64.b64encode(buf.getvalue()).decode()
    resp = await http.post("/v1/vision/detection", json={"image": image}, headers=bearer(SERVICE))
    assert resp.status_code == 413 and "5000x5000" in resp.json()["error_msg"]
