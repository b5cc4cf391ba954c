"""The relay: both capture formats parsed from the bytes a tool posts, then queued to the sink."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from assistant.connectors.base import Connector, PlatformActivity, PlatformMessage, PlatformUser
from assistant.connectors.relay import (
    MAX_ITEMS,
    QUEUE_SIZE,
    RelayBatch,
    RelayBatchTooLarge,
    RelayConnector,
    parse_relay,
)
from assistant.connectors.specs import RelaySpec
from assistant.errors import BadMessage, TooLarge
from tests.fakes.connector_sink import RecordingSink


def dumps(value: Any) -> bytes:
    """As a capture tool writes it: UTF-8, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False).encode()


def douyin(kind: int, data: dict[str, Any], *, as_string: bool = True) -> dict[str, Any]:
    """A DouyinBarrageGrab pack: ``Data`` is the message serialised again (or, in forks, not)."""
    body = json.dumps(data, ensure_ascii=False) if as_string else data
    return {"Type": kind, "ProcessName": "chrome", "Data": body}


def dy_user(uid: int = 99163136548, nickname: str = "雨后晴天🌈") -> dict[str, Any]:
    return {"Id": uid, "ShortId": 0, "DisplayId": "981960126", "Nickname": nickname, "Level": 3}


def test_normalised_chat_and_activities() -> None:
    payload = dumps(
        [
            {
                "type": "chat",
                "id": "k1",
                "user": {"id": 1001, "name": "小王😀"},
                "text": "多少钱？",
            },
            {
                "type": "gift",
                "id": "k2",
                "user": {"id": "u2"},
                "count": 3,
                "item": "玫瑰",
                "value": 3,
            },
            {"type": "purchase", "id": "k3", "user": {"id": "u3", "name": "B"}, "sku": "SKU-1"},
            {"type": "like", "id": "k4", "user": {"id": "u4"}, "ts": 1714564800123},
        ]
    )
    batch = parse_relay(payload)
    assert batch.errors == [] and batch.skipped == 0
    message, gift, purchase, like = batch.items
    assert message == PlatformMessage(
        id="k1", user=PlatformUser(id="1001", name="小王😀"), text="多少钱？"
    )
    assert isinstance(gift, PlatformActivity) and (gift.kind, gift.count, gift.item) == (
        "gift",
        3,
        "玫瑰",
    )
    assert isinstance(purchase, PlatformActivity) and purchase.sku == "SKU-1"
    assert like.sent_at == pytest.approx(1714564800.123)  # milliseconds recognised


def test_a_single_object_is_a_batch_of_one() -> None:
    payload = dumps({"type": "follow", "id": "f", "user": {"id": "u"}, "ts": 1714564800})
    (item,) = parse_relay(payload).items
    assert isinstance(item, PlatformActivity) and item.sent_at == 1714564800


def test_douyin_barrage_grab_packs() -> None:
    big_id = 7426593807944143910  # beyond a double's exact integers, as Douyin's ids are
    packs = [
        douyin(
            1,
            {"MsgId": big_id, "User": dy_user(), "Content": "这个保温杯多少钱？🔥", "RoomId": "1"},
        ),
        douyin(2, {"MsgId": 2, "User": dy_user(5), "Content": "为主播点赞了", "Count": 11}),
        douyin(3, {"MsgId": 3, "User": dy_user(6), "Content": "来了", "CurrentCount": 800}),
        douyin(4, {"MsgId": 4, "User": dy_user(7), "Content": "关注了主播"}, as_string=False),
        douyin(
            5,
            {
                "MsgId": 5,
                "User": dy_user(8, "土豪"),
                "GiftId": 463,
                "GiftName": "小心心",
                "GroupId": 17,
                "GiftCount": 2,
                "RepeatCount": 10,
                "DiamondCount": 1,
            },
        ),
        douyin(8, {"MsgId": 6, "User": dy_user(9), "ShareType": 1}),
        douyin(6, {"MsgId": 7, "OnlineUserCount": 120, "TotalUserCount": 5000}),
    ]
    batch = parse_relay(dumps(packs))
    assert batch.errors == [] and batch.skipped == 1
    message, *activities = batch.items
    assert isinstance(message, PlatformMessage)
    assert message.id == str(big_id) and message.text == "这个保温杯多少钱？🔥"
    assert message.user == PlatformUser(id="99163136548", name="雨后晴天🌈")
    assert all(isinstance(item, PlatformActivity) for item in activities)
    kinds = [(item.kind, item.count) for item in activities if isinstance(item, PlatformActivity)]
    assert kinds == [("like", 11), ("enter", 1), ("follow", 1), ("gift", 2), ("share", 1)]
    gift = activities[3]
    assert isinstance(gift, PlatformActivity)
    assert (gift.item, gift.value, gift.user.name) == ("小心心", 2.0, "土豪")


def test_douyin_builds_without_msg_id_get_fresh_ids() -> None:
    old = {
        "User": dy_user(),
        "GiftName": "玫瑰",
        "GiftCount": 30,
        "GroupCount": 1,
        "DiamondCount": 1,
    }
    batch = parse_relay(dumps([douyin(5, old), douyin(5, old)]))
    first, second = batch.items
    assert isinstance(first, PlatformActivity) and first.count == 1  # GroupCount: this time's
    assert first.id != second.id


def test_bad_items_are_reported_and_skipped() -> None:
    payload = dumps(
        [
            {"type": "chat", "id": "ok1", "user": {"id": "u"}, "text": "好"},
            {"type": "chat", "id": "no-user", "text": "x"},
            {"type": "dance", "id": "d", "user": {"id": "u"}},
            {"type": "gift", "id": "g", "user": {"id": "u"}, "count": 0},
            "not an object",
            douyin(1, {"MsgId": 1}),
            {"Type": 1, "Data": "{broken json"},
            douyin(42, {"MsgId": 1, "User": dy_user()}),
            {"type": "chat", "id": "ok2", "user": {"id": "u"}, "text": "x" * 4001},
            {"type": "chat", "id": "ok3", "user": {"id": "u"}, "text": "还有吗"},
        ]
    )
    batch = parse_relay(payload)
    assert [item.id for item in batch.items] == ["ok1", "ok3"]
    assert [error.split(":")[0] for error in batch.errors] == [f"item {i}" for i in range(1, 9)]
    assert "unknown Douyin Type 42" in batch.errors[6]


@pytest.mark.parametrize("payload", [b"", b"{oops", b"42", b'"text"', b"\xff\xfe"])
def test_a_payload_that_is_not_json_objects_is_refused(payload: bytes) -> None:
    with pytest.raises(BadMessage):
        parse_relay(payload)


def test_an_oversize_batch_is_refused_whole() -> None:
    item = {"type": "like", "id": "l", "user": {"id": "u"}}
    assert len(parse_relay(dumps([item] * MAX_ITEMS)).items) == MAX_ITEMS
    with pytest.raises(RelayBatchTooLarge) as caught:
        parse_relay(dumps([item] * (MAX_ITEMS + 1)))
    assert isinstance(caught.value, TooLarge) and caught.value.status == 413


def chats(*ids: str) -> RelayBatch:
    user = PlatformUser(id="u", name="小王")
    return RelayBatch(items=[PlatformMessage(id=i, user=user, text=f"t{i}") for i in ids])


@asynccontextmanager
async def running(relay: RelayConnector, sink: RecordingSink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(relay.run(sink))
    await sink.until(lambda: bool(sink.connects))
    try:
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_feed_then_run_delivers_in_order() -> None:
    relay = RelayConnector(RelaySpec(platform="douyin"))
    assert isinstance(relay, Connector)
    sink = RecordingSink()
    assert relay.feed(chats("a", "b")) == 2  # queued before any run: kept for it
    async with running(relay, sink):
        assert sink.connects == ["relay for douyin"]
        mixed = parse_relay(dumps([douyin(2, {"MsgId": 9, "User": dy_user(), "Count": 3})]))
        relay.feed(mixed)
        relay.feed(chats("c"))
        await sink.until(lambda: len(sink.messages) == 3 and len(sink.activities) == 1)
        assert [message.id for message in sink.messages] == ["a", "b", "c"]


async def test_overflow_is_counted_not_blocking() -> None:
    relay = RelayConnector(RelaySpec())
    sink = RecordingSink()
    async with running(relay, sink):
        # feed never yields, so the run takes nothing out while the queue fills
        ids = [str(i) for i in range(QUEUE_SIZE + 25)]
        queued = relay.feed(chats(*ids))
        assert queued == QUEUE_SIZE
        assert sink.drops == ["queue_full"] * 25
        await sink.until(lambda: len(sink.messages) == QUEUE_SIZE)
        assert [message.id for message in sink.messages] == ids[:QUEUE_SIZE]
