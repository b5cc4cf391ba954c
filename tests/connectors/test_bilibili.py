"""The Bilibili connector against a fake open platform and danmaku socket on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.connectors.base import Connector, ConnectorError, SourceEnded
from assistant.connectors.bilibili.client import BilibiliConnector
from assistant.connectors.specs import BilibiliSpec, build
from tests.fakes.bilibili_server import FakeBilibili, commands_frame, frame, running_fake
from tests.fakes.connector_sink import RecordingSink

HEARTBEAT_S = 0.2


@pytest.fixture
async def fake() -> AsyncIterator[FakeBilibili]:
    async with running_fake() as server:
        yield server


def open_spec(fake: FakeBilibili, **changes: Any) -> BilibiliSpec:
    spec = BilibiliSpec.model_validate(fake.open_spec() | {"heartbeat_s": HEARTBEAT_S})
    return spec.model_copy(update=changes)


def web_spec(fake: FakeBilibili) -> BilibiliSpec:
    return BilibiliSpec(
        mode="web", room_id=fake.room_id, web_api_base=fake.http_url, heartbeat_s=HEARTBEAT_S
    )


@asynccontextmanager
async def connected(spec: BilibiliSpec, sink: RecordingSink) -> AsyncIterator[asyncio.Task[None]]:
    """The connector running and authenticated; cancelled on exit if it is still running."""
    task = asyncio.create_task(BilibiliConnector(spec).run(sink))
    try:
        await sink.until(lambda: bool(sink.connects) or task.done())
        if task.done():
            task.result()
        yield task
    finally:
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the test has checked it, or fails on what it lacks


async def failure(task: asyncio.Task[None]) -> BaseException:
    async with asyncio.timeout(10):
        await asyncio.wait([task])
    error = task.exception()
    assert error is not None
    return error


def dm(text: str, msg_id: str) -> dict[str, Any]:
    data = {"open_id": "open-u1", "uid": 0, "uname": "小王", "msg": text, "msg_id": msg_id}
    return {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": data | {"timestamp": 1_700_000_000}}


OPEN_ACTIVITY = [
    {
        "cmd": "LIVE_OPEN_PLATFORM_SEND_GIFT",
        "data": {"open_id": "open-u2", "uname": "阿花", "gift_id": 31036, "gift_name": "小花花"}
        | {"gift_num": 10, "price": 100, "paid": True, "msg_id": "g-1", "timestamp": 1_700_000_001},
    },
    {
        "cmd": "LIVE_OPEN_PLATFORM_LIKE",
        "data": {"open_id": "open-u3", "uname": "路人", "like_text": "为主播点赞了"}
        | {"like_count": 5, "msg_id": "l-1", "timestamp": 1_700_000_002},
    },
    {
        "cmd": "LIVE_OPEN_PLATFORM_GUARD",
        "data": {"user_info": {"open_id": "open-u4", "uname": "舰长大人"}, "guard_level": 3}
        | {"guard_num": 1, "guard_unit": "月", "price": 198000, "msg_id": "gd-1"},
    },
    {
        "cmd": "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER",
        "data": {"open_id": "open-u5", "uname": "新人", "timestamp": 1_700_000_003},
    },
    {"cmd": "LIVE_OPEN_PLATFORM_SOMETHING_NEW", "data": {"whatever": 1}},
]
SUPER_CHAT = {
    "cmd": "LIVE_OPEN_PLATFORM_SUPER_CHAT",
    "data": {"open_id": "open-u6", "uname": "老板", "message": "保温杯能装多少？", "rmb": 30}
    | {"message_id": 3992851, "timestamp": 1_700_000_004, "msg_id": "sc-1"},
}


async def test_open_mode_maps_chat_and_activity_with_platform_ids(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(open_spec(fake), sink) as task:
        assert fake.called("start") == [{"code": fake.code, "app_id": fake.app_id}]
        assert fake.auths[0]["key"] == "key-game-1"
        assert "room 7734" in sink.connects[0]
        await fake.push(commands_frame(dm("这个保温杯多少钱？", "m-1")))
        await fake.push(commands_frame(*OPEN_ACTIVITY, protover=2))
        await fake.push(commands_frame(SUPER_CHAT, dm("还有货吗", "m-2"), protover=3))
        await sink.until(lambda: len(sink.messages) == 3 and len(sink.activities) == 5)
        assert not task.done()

    assert [(m.id, m.user.id, m.text) for m in sink.messages] == [
        ("m-1", "open-u1", "这个保温杯多少钱？"),
        ("sc-1", "open-u6", "保温杯能装多少？"),
        ("m-2", "open-u1", "还有货吗"),
    ]
    assert sink.messages[0].sent_at == 1_700_000_000
    assert sink.messages[0].user.name == "小王"
    gift, like, guard, enter, paid = sink.activities
    assert (gift.id, gift.user.id, gift.item, gift.count) == ("g-1", "open-u2", "小花花", 10)
    assert gift.value == 1.0  # 10 × 100 milli-yuan
    assert (like.id, like.kind, like.count, like.sent_at) == ("l-1", "like", 5, 1_700_000_002)
    assert (guard.id, guard.user.id, guard.item, guard.value) == ("gd-1", "open-u4", "舰长", 198)
    assert (enter.kind, enter.user.id, enter.user.name) == ("enter", "open-u5", "新人")
    assert (paid.id, paid.user.id, paid.kind, paid.value) == ("sc-1:paid", "open-u6", "gift", 30)
    assert sink.drops == []


async def test_heartbeats_go_out_on_the_socket_and_to_the_api(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(open_spec(fake), sink):
        await fake.until(
            lambda: len(fake.socket_heartbeats) >= 4 and len(fake.called("heartbeat")) >= 2
        )
    gaps = [b - a for a, b in zip(fake.socket_heartbeats, fake.socket_heartbeats[1:], strict=False)]
    assert all(HEARTBEAT_S * 0.75 <= gap <= HEARTBEAT_S * 2.5 for gap in gaps), gaps
    assert fake.called("heartbeat")[0] == {"game_id": "game-1"}


@pytest.mark.parametrize(
    ("change", "code", "retryable"),
    [
        ({"access_key_secret": SecretStr("wrong")}, 4002, False),
        ({"access_key_id": "someone-else"}, 4001, False),
        ({"code": "NOT0THE0CODE"}, 7007, False),
        ({}, 5000, True),
    ],
    ids=["bad-secret", "bad-key-id", "bad-code", "server-error"],
)
async def test_refused_starts(
    fake: FakeBilibili, change: dict[str, Any], code: int, retryable: bool
) -> None:
    fake.start_code = 0 if change else code
    sink = RecordingSink()
    error = await failure(
        asyncio.create_task(BilibiliConnector(open_spec(fake, **change)).run(sink))
    )
    assert isinstance(error, ConnectorError)
    assert error.retryable is retryable
    assert f"code {code}" in str(error)
    assert sink.connects == []


async def test_missing_keys_fail_before_any_call(fake: FakeBilibili) -> None:
    connector = BilibiliConnector(open_spec(fake, code=""))
    error = await failure(asyncio.create_task(connector.run(RecordingSink())))
    assert isinstance(error, ConnectorError) and not error.retryable
    assert fake.calls == [] and fake.refusals == []


async def test_a_connection_dropped_mid_stream_is_retryable(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(open_spec(fake), sink) as task:
        await fake.push(commands_frame(dm("第一条", "m-1"), dm("第二条", "m-2"), protover=2))
        fake.drop()
        error = await failure(task)
    assert isinstance(error, ConnectorError) and error.retryable
    assert [m.id for m in sink.messages] == ["m-1", "m-2"]
    assert fake.called("end") == [{"game_id": "game-1", "app_id": fake.app_id}]


async def test_malformed_packets_are_dropped_and_reading_goes_on(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(open_spec(fake), sink) as task:
        await fake.push(b"\x00\x00\x00\x40\x00\x10")  # a header cut short
        await fake.push(frame(5, b"{not json"))
        await fake.push(frame(5, b"not zlib", protover=2))
        await fake.push("a text frame")
        await fake.push(commands_frame({"cmd": "LIVE_OPEN_PLATFORM_DM", "data": {"uname": "x"}}))
        await fake.push(commands_frame(dm("x" * 5000, "m-long")))
        await fake.push(commands_frame({"cmd": "SOME_UNKNOWN_CMD", "data": {}}))
        await fake.push(commands_frame(dm("还在吗", "m-ok")))
        await sink.until(lambda: len(sink.messages) == 1)
        assert not task.done()
    assert [m.id for m in sink.messages] == ["m-ok"]
    assert len(sink.drops) == 6, sink.drops
    assert "LIVE_OPEN_PLATFORM_DM" in sink.drops[4]


async def test_cancelling_run_ends_the_game(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(open_spec(fake), sink) as task:
        assert fake.games == {"game-1"}
        task.cancel()
        await asyncio.wait([task])
        assert task.cancelled()
    assert fake.called("end") == [{"game_id": "game-1", "app_id": fake.app_id}]
    assert fake.games == set()


async def test_the_platform_ending_this_game_ends_the_source(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(open_spec(fake), sink) as task:
        end = "LIVE_OPEN_PLATFORM_INTERACTION_END"
        await fake.push(
            commands_frame({"cmd": end, "data": {"game_id": "game-0"}}, dm("hi", "m-1"))
        )
        await sink.until(lambda: len(sink.messages) == 1)
        await fake.push(commands_frame({"cmd": end, "data": {"game_id": "game-1"}}))
        error = await failure(task)
    assert isinstance(error, SourceEnded) and not error.retryable
    assert sink.drops == []


async def test_a_refused_game_heartbeat_is_retryable(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(open_spec(fake), sink) as task:
        fake.games.clear()  # the platform closed the game on its side
        error = await failure(task)
    assert isinstance(error, ConnectorError) and error.retryable
    assert "code 7003" in str(error)


async def test_a_silent_socket_counts_as_dropped(fake: FakeBilibili) -> None:
    fake.answer_heartbeats = False
    sink = RecordingSink()
    async with connected(open_spec(fake, heartbeat_s=0.1), sink) as task:
        error = await failure(task)
    assert isinstance(error, ConnectorError) and error.retryable
    assert "silent" in str(error)


async def test_the_next_server_is_tried_when_one_is_down(fake: FakeBilibili) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        fake.extra_links = [f"ws://127.0.0.1:{closed.getsockname()[1]}/sub"]
    sink = RecordingSink()
    async with connected(open_spec(fake), sink):
        await fake.push(commands_frame(dm("hi", "m-1")))
        await sink.until(lambda: len(sink.messages) == 1)


DANMAKU_META = [0, 1, 25, 16777215, 1_700_000_000_123, 0, 0, "998a531f", 0, 0, 0, "", 0]
DANMAKU_SENDER = [1850091, "见齐", 0, 0, 0, 10000, 1, ""]
DANMAKU = {
    "cmd": "DANMU_MSG",
    "info": [DANMAKU_META, "主播好", DANMAKU_SENDER, [], [], [], 0, 0, None, {"ct": "59DEA791"}],
}
# Signed out, the web room shows every sender as uid 0 with a masked name.
ANONYMOUS = {
    "cmd": "DANMU_MSG:4:0:2:2:2:0",
    "info": [[0, 1, 25, 0, 1_700_000_001_000, 0, 0, "c0ffee01"], "在吗", [0, "用户***", 0]],
}
WEB_ACTIVITY = [
    {
        "cmd": "SEND_GIFT",
        "data": {"uid": 42, "uname": "阿花", "giftName": "辣条", "num": 3, "price": 100}
        | {"coin_type": "gold", "tid": "1700000000123", "timestamp": 1_700_000_002},
    },
    {"cmd": "INTERACT_WORD", "data": {"uid": 43, "uname": "新粉", "msg_type": 2, "timestamp": 9}},
    {"cmd": "LIKE_INFO_V3_CLICK", "data": {"uid": 44, "uname": "路人", "like_text": "点赞了"}},
    {
        "cmd": "SUPER_CHAT_MESSAGE",
        "data": {"id": 9001, "uid": 45, "message": "多少钱？", "price": 50, "start_time": 8}
        | {"user_info": {"uname": "老板"}},
    },
]


async def test_web_mode_reads_a_public_room(fake: FakeBilibili) -> None:
    sink = RecordingSink()
    async with connected(web_spec(fake), sink):
        web = {"uid": 0, "roomid": fake.room_id, "protover": 3, "platform": "web", "type": 2}
        assert fake.auths == [{**web, "key": fake.token}]
        assert sink.connects == [f"web room {fake.room_id}"]
        await fake.push(commands_frame(DANMAKU, ANONYMOUS, protover=3))
        await fake.push(commands_frame(*WEB_ACTIVITY, protover=2))
        await sink.until(lambda: len(sink.messages) == 3 and len(sink.activities) == 4)
        await fake.until(lambda: len(fake.socket_heartbeats) >= 1)

    named, anonymous, paid_text = sink.messages
    assert (named.id, named.user.id, named.user.name) == (
        "dm:1700000000123:59DEA791",
        "1850091",
        "见齐",
    )
    assert named.text == "主播好" and named.sent_at == pytest.approx(1_700_000_000.123)
    assert anonymous.user.id == "crc:c0ffee01" and anonymous.id.startswith("dm:")
    assert (paid_text.id, paid_text.text) == ("sc:9001", "多少钱？")
    given, follow, like, paid = sink.activities
    assert (given.id, given.user.id, given.item, given.count) == (
        "gift:1700000000123",
        "42",
        "辣条",
        3,
    )
    assert given.value == pytest.approx(0.3)
    assert (follow.kind, follow.user.id, follow.sent_at) == ("follow", "43", 9)
    assert (like.kind, like.user.id) == ("like", "44")
    assert (paid.id, paid.user.name, paid.value, paid.sent_at) == ("sc:9001:paid", "老板", 50, 8)
    assert sink.drops == []


def test_the_builder_finds_the_connector() -> None:
    connector = build(BilibiliSpec(mode="web", room_id=1))
    assert isinstance(connector, BilibiliConnector) and isinstance(connector, Connector)
    assert connector.kind == "bilibili"
