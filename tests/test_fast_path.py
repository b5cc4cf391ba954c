"""Chat to answer through the real app with no model installed: the fast lane's end-to-end test."""

from __future__ import annotations

from pathlib import Path

import httpx

from assistant.catalog import Catalog
from assistant.events import Answer, ChatAccepted
from tests.conftest import DEMO_CATALOG, catalog_brain_settings, demo_room, ws_url
from tests.server import serve
from tests.wsclient import room_client


async def test_a_viewer_question_is_answered_from_the_catalog_without_models(
    tmp_path: Path,
) -> None:
    catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))
    product = next(p for p in catalog.products if p.stock > 0)
    settings = catalog_brain_settings(tmp_path)
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await demo_room(http)
        host_auth = {"Authorization": f"Bearer {room.tokens['host']}"}
        async with (
            room_client(ws_url(url, room, "host")) as host,
            room_client(ws_url(url, room, "viewer")) as viewer,
        ):
            await viewer.chat(f"{product.title}多少钱？")
            accepted = await viewer.expect("chat.accepted")
            assert isinstance(accepted, ChatAccepted) and accepted.status == "queued"
            answer = await viewer.expect("answer", timeout=30)
            assert isinstance(answer, Answer) and answer.chat_id == accepted.chat_id
            assert answer.sku == product.sku and f"{product.price:g}" in answer.text
            status = await host.expect("chat.accepted", timeout=10)
            assert isinstance(status, ChatAccepted)
            assert (status.chat_id, status.status) == (accepted.chat_id, "answered")
        logged = await http.get(f"/v1/rooms/{room.room_id}/chat", headers=host_auth)
        assert [line["status"] for line in logged.json()] == ["answered"]
