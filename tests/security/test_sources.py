"""Limits by source, not by claim: viewer identity is the server's, and floods are counted where
they come from (connection, address, room)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from assistant.events import ChatAccepted, Error
from assistant.rooms import RoomCreated
from assistant.settings import LimitSettings
from tests.conftest import demo_room, make_settings, ws_url
from tests.server import serve
from tests.wsclient import RoomClient, room_client

Served = tuple[str, RoomCreated]


async def serving(tmp_path: Path, **limits: object) -> AsyncIterator[Served]:
    settings = make_settings(tmp_path, limits=LimitSettings.model_validate(limits))
    async with serve(settings) as url, httpx.AsyncClient(base_url=url) as http:
        yield url, await demo_room(http)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async for pair in serving(tmp_path):
        yield pair


async def outcome(client: RoomClient) -> str:
    """``accepted`` or the code of the error the line got."""
    async with asyncio.timeout(5):
        while True:
            event = await client.next_event()
            if isinstance(event, ChatAccepted):
                return "accepted"
            if isinstance(event, Error):
                return event.code


async def test_another_viewers_id_in_the_url_gets_none_of_their_events(served: Served) -> None:
    url, room = served
    async with room_client(ws_url(url, room, "viewer")) as alice:
        me = await alice.session()
        async with room_client(ws_url(url, room, "viewer", user=me.user_id)) as mallory:
            other = await mallory.session()
            await alice.chat("保温杯多少钱", user_id=me.user_id)
            assert isinstance(await alice.expect("chat.accepted"), ChatAccepted)
            assert await mallory.silent("chat.accepted", within=1.0)
    assert other.user_id != me.user_id


async def test_a_session_keeps_its_viewer_and_a_forged_one_does_not(served: Served) -> None:
    url, room = served
    async with room_client(ws_url(url, room, "viewer")) as first:
        me = await first.session()
    async with room_client(ws_url(url, room, "viewer", session=me.session)) as again:
        assert (await again.session()).user_id == me.user_id
    forged = f"{me.user_id}x.{me.session.rsplit('.', 1)[1]}"
    async with room_client(ws_url(url, room, "viewer", session=forged)) as other:
        assert (await other.session()).user_id not in (me.user_id, f"{me.user_id}x")


async def test_fresh_ids_do_not_escape_the_address_limit(tmp_path: Path) -> None:
    async for url, room in serving(tmp_path, viewer_per_address="12/minute"):
        outcomes: list[str] = []
        for n in range(6):  # six viewers from one address, four lines each, fresh ids all
            async with room_client(ws_url(url, room, "viewer")) as viewer:
                await viewer.session()
                for line in range(4):
                    await viewer.chat(f"第{line}个问题{n}：有什么颜色", user_id=f"fresh-{n}")
                    outcomes.append(await outcome(viewer))
        assert outcomes.count("accepted") == 12
        assert set(outcomes) == {"accepted", "rate_limited"}


async def test_engagement_counts_against_the_connection(tmp_path: Path) -> None:
    async for url, room in serving(tmp_path, viewer_per_connection="3/minute"):
        async with room_client(ws_url(url, room, "viewer")) as viewer:
            await viewer.session()
            like = {"type": "engagement", "user": {"id": "x", "name": "y"},
                    "sku": "NOPE-1", "action": "click"}  # fmt: skip
            for _ in range(4):
                await viewer.send(like)
            error = await viewer.expect("error")
            assert isinstance(error, Error) and error.code == "rate_limited"
            await viewer.chat("还能问吗")
            assert await outcome(viewer) == "rate_limited"


async def test_a_viewer_that_keeps_sending_after_refusals_is_disconnected(
    tmp_path: Path,
) -> None:
    async for url, room in serving(
        tmp_path, viewer_per_connection="2/minute", refusals_before_close=3
    ):
        async with connect(ws_url(url, room, "viewer")) as viewer:
            await viewer.recv()  # the session
            codes: list[str] = []
            with pytest.raises(ConnectionClosed) as closed:
                for n in range(20):
                    await viewer.send(json.dumps({"type": "chat", "user": {"id": "x", "name": "y"},
                                                  "text": f"第{n}条"}))  # fmt: skip
                    reply = {"type": "chat"}
                    while reply["type"] == "chat":  # its own line comes back to it first
                        reply = json.loads(await asyncio.wait_for(viewer.recv(), 5))
                    codes.append(reply.get("code") or reply["type"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert codes == ["chat.accepted"] * 2 + ["rate_limited"] * 4


async def test_connections_are_capped_per_address(tmp_path: Path) -> None:
    async for url, room in serving(tmp_path, connections_per_address=3):
        async with AsyncExitStack() as stack:
            held = [await stack.enter_async_context(room_client(ws_url(url, room, "viewer")))
                    for _ in range(3)]  # fmt: skip
            for client in held:
                await client.session()
            async with connect(ws_url(url, room, "viewer")) as extra:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(extra.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        async with room_client(ws_url(url, room, "viewer")) as later:  # the slots came back
            assert (await later.session()).user_id


async def test_new_connections_are_rate_limited_per_address(tmp_path: Path) -> None:
    async for url, room in serving(tmp_path, connects_per_address="4/minute"):
        codes: list[int | None] = []
        for _ in range(6):
            async with connect(ws_url(url, room, "viewer")) as conn:
                try:
                    json.loads(await asyncio.wait_for(conn.recv(), 5))
                    codes.append(None)
                except ConnectionClosed as exc:
                    codes.append(exc.rcvd.code if exc.rcvd else -1)
        assert codes == [None] * 4 + [1013] * 2


async def test_a_viewer_frame_past_its_small_cap_closes_at_the_protocol(served: Served) -> None:
    url, room = served
    async with connect(ws_url(url, room, "viewer"), max_size=None) as viewer:
        await viewer.recv()  # the session
        await viewer.send("x" * (64 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(viewer.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_host_may_send_frames_a_viewer_may_not(served: Served) -> None:
    url, room = served
    async with room_client(ws_url(url, room, "host")) as host:
        await host.conn.send("x" * (64 * 1024))  # over the viewer cap: a typed error, no close
        error = await host.expect("error")
        assert isinstance(error, Error) and error.code == "too_large"
        await host.chat("还在吗", user_id="h", name="主播")
        assert await outcome(host) == "accepted"
