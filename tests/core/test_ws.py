"""WebSocket: auth, every forbidden action per role, malformed input, limits and clean-up."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from assistant.events import Chat, ChatAccepted, Error, Role
from assistant.rooms import RoomCreated
from assistant.server import text_frame
from tests.conftest import ws_url
from tests.wsclient import RoomClient, room_client

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def error_code(client: RoomClient) -> str:
    event = await client.expect("error")
    assert isinstance(event, Error)
    return event.code


async def test_bad_token_and_unknown_room(base_url: str, room: RoomCreated) -> None:
    bad = ws_url(base_url, room, "viewer").replace(room.tokens["viewer"], "forged")
    async with connect(bad) as conn:
        with pytest.raises(ConnectionClosed) as closed:
            await conn.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    unknown = ws_url(base_url, room, "viewer").replace(room.room_id, "nosuchroom")
    async with connect(unknown) as conn:
        with pytest.raises(ConnectionClosed) as closed:
            await conn.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401  # as a bad token


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("viewer", {"type": "script.request"}),
        ("viewer", {"type": "stage.set", "sku": "X"}),
        ("viewer", {"type": "schedule.set", "items": []}),
        ("viewer", {"type": "host.say", "text": "hi"}),
        ("viewer", {"type": "answer", "chat_id": "c", "text": "the cup is free"}),
        ("viewer", {"type": "recommendation", "target_user": "v2", "query": "q", "items": []}),
        (
            "viewer",
            {
                "type": "vision.update",
                "frame_id": "f",
                "width": 1,
                "height": 1,
                "stage": {"sku": None, "confidence": 0},
            },
        ),
        ("anchor", {"type": "script.request"}),
        ("anchor", {"type": "stage.set", "sku": "X"}),
        ("anchor", {"type": "engagement", "user": {"id": "a", "name": "a"}, "sku": "X"}),
        ("host", {"type": "answer", "chat_id": "c", "text": "x"}),
        ("host", {"type": "catalog.updated", "products": []}),
        ("host", {"type": "frame", "data": "AAAA"}),
        (
            "host",
            {
                "type": "audio.chunk",
                "seq": 1,
                "utterance_id": "u",
                "text": "t",
                "sample_rate": 1,
                "data": "AAAA",
            },
        ),
    ],
)
async def test_forbidden_per_role(
    base_url: str, room: RoomCreated, role: Role, message: dict[str, object]
) -> None:
    async with room_client(ws_url(base_url, room, role)) as client:
        await client.send(message)
        assert await error_code(client) == "forbidden"
        await client.chat("连接还在吗？", user_id=f"{role}-1", name="小李")
        echoed = await client.expect("chat")
        assert echoed.model_dump()["text"] == "连接还在吗？"


async def test_viewer_cannot_push_frames(base_url: str, room: RoomCreated) -> None:
    async with room_client(ws_url(base_url, room, "viewer")) as client:
        await client.conn.send(JPEG)
        assert await error_code(client) == "forbidden"


async def test_viewer_cannot_impersonate(base_url: str, room: RoomCreated) -> None:
    async with (
        room_client(ws_url(base_url, room, "host")) as host,
        room_client(ws_url(base_url, room, "viewer")) as client,
    ):
        me = await client.session()
        await client.chat("大家好", name="直播间官方客服")
        assert await error_code(client) == "forbidden"
        await client.chat("大家好", name="Shop Bot")
        assert await error_code(client) == "forbidden"
        await client.chat("第一句", user_id="v1", name="Abbott Ghost")
        await client.chat("换个身份", user_id="v2")
        seen = [await host.expect("chat"), await host.expect("chat")]
        assert [c.user.id for c in seen if isinstance(c, Chat)] == [me.user_id, me.user_id]
        assert me.user_id not in ("v1", "v2")


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[]",
        '"chat"',
        "{}",
        '{"type": "teleport"}',
        '{"type": "chat"}',
        '{"type": "chat", "user": {"id": "u", "name": "n"}, "text": 5}',
        '{"type": "chat", "user": {"id": "u", "name": "n"}, "text": ""}',
        '{"type": "chat", "user": "me", "text": "hi"}',
        '{"type": "chat", "user": {"id": "u", "name": "n"}, "text": "hi", "role": "host",'
        ' "extra": 1}',
        '{"type": "script.request", "seconds": -5}',
    ],
)
async def test_malformed_messages(base_url: str, room: RoomCreated, raw: str) -> None:
    async with room_client(ws_url(base_url, room, "host")) as client:
        await client.conn.send(raw)
        assert await error_code(client) == "bad_message"
        await client.chat("还在线吗？", user_id="h", name="主播")
        await client.expect("chat.accepted")


async def test_oversized_and_non_image(base_url: str, room: RoomCreated) -> None:
    async with room_client(ws_url(base_url, room, "host")) as client:
        await client.chat("长" * 20_000)
        assert await error_code(client) == "too_large"
        await client.conn.send(b"GIF89a not a jpeg")
        assert await error_code(client) == "bad_input"
        await client.conn.send(JPEG + b"\x00" * (9 * 1024 * 1024))
        assert await error_code(client) == "too_large"


async def test_role_is_set_by_server(base_url: str, room: RoomCreated) -> None:
    async with (
        room_client(ws_url(base_url, room, "viewer")) as viewer,
        room_client(ws_url(base_url, room, "viewer")) as other,
    ):
        await viewer.send(
            {
                "type": "chat",
                "user": {"id": "v1", "name": "小王"},
                "text": "这个多少钱",
                "role": "host",
            }
        )
        accepted = await viewer.expect("chat.accepted")
        assert isinstance(accepted, ChatAccepted) and accepted.status == "queued"
        seen = await other.expect("chat")
        assert seen.model_dump()["role"] == "viewer"


async def test_rate_limit(base_url: str, room: RoomCreated) -> None:
    async with room_client(ws_url(base_url, room, "viewer")) as client:
        codes = []
        for i in range(8):
            await client.chat(f"第{i}个问题：尺码{i}怎么选")
            event = await client.next_event()
            while event.type not in ("chat.accepted", "error"):
                event = await client.next_event()
            codes.append(event.code if isinstance(event, Error) else "accepted")
        assert "rate_limited" in codes
        assert codes[0] == "accepted"


async def test_disconnect_mid_stream_leaves_no_task(
    base_url: str, room: RoomCreated, client: httpx.AsyncClient
) -> None:
    for _ in range(5):
        async with room_client(ws_url(base_url, room, "host")) as host:
            await host.conn.send(JPEG)
            await host.chat("测试", user_id="h", name="主播")
    await asyncio.sleep(0.3)
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("ws-pump")] == []
    metrics = (await client.get("/metrics")).text
    assert 'lca_ws_connections{role="host"} 0.0' in metrics
    # Only the room's own live view still follows it, and nothing is queued for the gone clients.
    auth = {"Authorization": f"Bearer {room.tokens['host']}"}
    health = (await client.get(f"/v1/rooms/{room.room_id}/health", headers=auth)).json()
    assert health["queue_depth"] == 0


async def test_answers_reach_every_viewer(base_url: str, room: RoomCreated) -> None:
    async with (
        room_client(ws_url(base_url, room, "viewer")) as a,
        room_client(ws_url(base_url, room, "viewer")) as b,
    ):
        await a.chat("这款保温杯多少钱？", user_id="va")
        chat = await b.expect("chat")
        assert chat.model_dump()["text"] == "这款保温杯多少钱？"
        assert await b.silent("chat.accepted")
        assert isinstance(await a.expect("chat.accepted"), ChatAccepted)


async def test_batched_clients_get_every_event_once_in_order(
    base_url: str, room: RoomCreated
) -> None:
    async with (
        room_client(ws_url(base_url, room, "viewer", batch="1")) as reader,
        room_client(ws_url(base_url, room, "host")) as host,
    ):
        texts = [f"第{i}个问题：这款有几种颜色" for i in range(30)]
        for text in texts:
            await host.chat(text, user_id="h", name="主播")
        seen: list[str] = []
        async with asyncio.timeout(10):
            while len(seen) < len(texts):
                items = json.loads(await reader.conn.recv())
                for item in items if isinstance(items, list) else [items]:
                    if item["type"] == "chat":
                        seen.append(item["text"])
        assert seen == texts


@pytest.mark.parametrize("size", [10, 125, 126, 65535, 65536, 200_000])
def test_a_ready_made_frame_is_what_a_client_reads(size: int) -> None:
    """Lines written straight to idle sockets are framed once per room (RFC 6455 lengths)."""
    client = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    payload = ("好" * size).encode()[:size]
    payload = payload[: len(payload.decode(errors="ignore").encode())]  # whole characters
    client.receive_data(text_frame(payload))
    (frame,) = client.events_received()
    assert isinstance(frame, Frame)
    assert frame.opcode is Opcode.TEXT and frame.data == payload
