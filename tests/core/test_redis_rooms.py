"""Two app instances share one room through Redis Streams."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from assistant.events import Chat, ChatTriaged
from assistant.rooms import RoomCreated
from assistant.settings import BusSettings
from tests.conftest import demo_room, make_settings, ws_url
from tests.server import serve
from tests.wsclient import room_client

pytestmark = pytest.mark.redis


@asynccontextmanager
async def two_instances(tmp_path: Path) -> AsyncIterator[tuple[str, str, RoomCreated]]:
    """Instances A and B on one Redis and one store, and a demo room made on A."""
    bus = BusSettings(backend="redis", redis_prefix=f"t{uuid.uuid4().hex[:8]}")
    settings = make_settings(tmp_path, bus=bus)
    async with serve(settings) as url_a, serve(settings) as url_b:
        async with httpx.AsyncClient(base_url=url_a) as http:
            room = await demo_room(http)
        yield url_a, url_b, room


async def test_chat_on_a_reaches_viewer_on_b(tmp_path: Path) -> None:
    async with (
        two_instances(tmp_path) as (url_a, url_b, room),
        room_client(ws_url(url_b, room, "viewer")) as viewer_b,
        room_client(ws_url(url_a, room, "viewer")) as viewer_a,
    ):
        me = await viewer_a.session()
        await viewer_a.chat("在B实例也能看到吗？")
        seen = await viewer_b.expect("chat")
        assert isinstance(seen, Chat)
        assert (seen.text, seen.user.id) == ("在B实例也能看到吗？", me.user_id)
        accepted = await viewer_a.expect("chat.accepted")
        assert accepted.model_dump()["chat_id"] == seen.id


async def test_a_room_made_on_a_is_served_on_b_from_its_first_client(tmp_path: Path) -> None:
    """B started before the room existed: it opens the room (catalog, understanding, stage)
    when a client first reaches it there, so a line sent to B is read against the catalog."""
    async with (
        two_instances(tmp_path) as (url_a, url_b, room),
        room_client(ws_url(url_a, room, "host")) as host_a,
        room_client(ws_url(url_b, room, "viewer")) as viewer_b,
    ):
        await viewer_b.session()
        await viewer_b.chat("316不锈钢保温杯多少钱")
        triaged = await host_a.expect("chat.triaged")
        assert isinstance(triaged, ChatTriaged)
        assert triaged.understanding.skus  # linked to the catalog B loaded
