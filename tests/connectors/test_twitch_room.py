"""Twitch through the real app: a chat question read over EventSub is answered from the catalog
and the answer is posted back to the channel as a reply to it, once."""

from __future__ import annotations

from pathlib import Path

import httpx

from assistant.catalog import Catalog
from tests.conftest import DEMO_CATALOG, catalog_brain_settings, demo_room
from tests.fakes.twitch_server import chat, fake_twitch
from tests.server import serve
from tests.waits import until


async def test_a_twitch_question_is_answered_in_the_channel(tmp_path: Path) -> None:
    catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))
    product = next(p for p in catalog.products if p.stock > 0)
    async with (
        serve(catalog_brain_settings(tmp_path)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        fake_twitch() as fake,
    ):
        room = await demo_room(http)
        spec = {
            "kind": "twitch",
            "client_id": "client1",
            "access_token": "token1",
            "broadcaster_id": "1001",
            "bot_user_id": "2002",
            "eventsub_url": fake.eventsub_url,
            "api_base": fake.api_base,
            "post_answers": True,
            "reply_interval_s": 0.5,
        }
        host = {"Authorization": f"Bearer {room.tokens['host']}"}
        started = await http.post(f"/v1/rooms/{room.room_id}/connectors", json=spec, headers=host)
        assert started.status_code == 201, started.text
        session = await fake.next_session()
        await session.welcome()
        await until(lambda: len(fake.subscriptions) >= 1)
        await session.send(chat(f"{product.title}多少钱？", message_id="tw-1", name="Ann"))
        await until(lambda: bool(fake.posted), timeout=30)
        status = (await http.get(f"/v1/rooms/{room.room_id}/connectors", headers=host)).json()
    (posted,) = fake.posted
    assert posted["reply_parent_message_id"] == "tw-1"
    assert posted["broadcaster_id"] == "1001" and posted["sender_id"] == "2002"
    assert f"{product.price:g}" in posted["message"]
    assert status[0]["replies"] == 1 and status[0]["received"] == 1
