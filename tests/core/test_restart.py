"""Restart recovery: the room, its catalog and queued chat survive a stopped app."""

from __future__ import annotations

import httpx

from assistant.settings import Settings
from tests.conftest import create_room, ws_url
from tests.server import serve
from tests.wsclient import room_client


async def test_room_catalog_and_queued_chat_survive(settings: Settings) -> None:
    catalog = {
        "products": [
            {"sku": "CUP-1", "title": "保温杯", "price": 59.9, "stock": 3, "category": "home"}
        ]
    }
    async with serve(settings) as url, httpx.AsyncClient(base_url=url) as http:
        room = await create_room(http)
        host = {"Authorization": f"Bearer {room.tokens['host']}"}
        assert (
            await http.put(f"/v1/rooms/{room.room_id}/catalog", json=catalog, headers=host)
        ).status_code == 200
        async with room_client(ws_url(url, room, "viewer")) as viewer:
            await viewer.chat("保温杯能装开水吗？")
            accepted = await viewer.expect("chat.accepted")
    async with serve(settings) as url, httpx.AsyncClient(base_url=url) as http:
        got = await http.get(f"/v1/rooms/{room.room_id}/catalog", headers=host)
        assert got.status_code == 200
        assert got.json()["products"][0]["sku"] == "CUP-1"
        health = (await http.get(f"/v1/rooms/{room.room_id}/health", headers=host)).json()
        assert health["backlog"] == 1
        assert "lca_chat_backlog 1.0" in (await http.get("/metrics")).text
        async with room_client(ws_url(url, room, "host")) as conn:
            await conn.chat("欢迎回来", user_id="h", name="主播")
            assert (await conn.expect("chat.accepted")).model_dump()["status"] == "skipped"
    assert accepted.model_dump()["status"] == "queued"
