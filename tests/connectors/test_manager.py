"""The room side of connectors: reconnects with backoff, ends and failures, dedupe, viewer
mapping, floods, bad frames and answers posted back, through a real runtime (no model)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from assistant.catalog import Catalog
from assistant.connectors.base import (
    Connector,
    ConnectorError,
    PlatformActivity,
    PlatformMessage,
    PlatformUser,
    Sink,
    SourceEnded,
)
from assistant.connectors.manager import Connectors
from assistant.connectors.specs import ConnectorSettings, ConnectorSpec, RelaySpec
from assistant.events import Activity, Answer, Engagement, Event
from assistant.rooms import RoomCreate
from assistant.runtime import Runtime
from tests.conftest import DEMO_CATALOG, make_settings
from tests.fakes.connectors import ReplyingConnector, ScriptedConnector, Step
from tests.waits import until

FAST = ConnectorSettings(backoff_first_s=0.01, backoff_max_s=0.02, activity_per_s=5)


def line(n: int, text: str = "这个多少钱", user: str = "u1", name: str = "小红") -> PlatformMessage:
    return PlatformMessage(id=f"m{n}", user=PlatformUser(id=user, name=name), text=text)


async def forever(sink: Sink) -> None:
    sink.connected("up")
    await asyncio.Event().wait()


def send(*items: PlatformMessage, then: Step = forever) -> Step:
    async def step(sink: Sink) -> None:
        sink.connected("up")
        for item in items:
            await sink.chat(item)
        await then(sink)

    return step


async def drop(sink: Sink) -> None:
    raise ConnectorError("connection reset")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, str]]:
    rt = await Runtime.start(make_settings(tmp_path))
    catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))
    created = await rt.rooms.create(RoomCreate(title="平台直播间"), catalog)
    try:
        yield rt, created.room_id
    finally:
        await rt.stop()


def manager(rt: Runtime, connector: Connector) -> Connectors:
    def factory(spec: ConnectorSpec) -> Connector:
        return connector

    return Connectors(
        FAST,
        bus=rt.services.bus,
        triage=rt.triage,
        registry=CollectorRegistry(),
        max_frame_bytes=rt.services.settings.ws.max_frame_bytes,
        factory=factory,
    )


async def test_a_dropped_source_reconnects_and_its_replayed_lines_count_once(
    runtime: tuple[Runtime, str],
) -> None:
    rt, room_id = runtime
    first = send(line(1), line(2), then=drop)
    connector = ScriptedConnector([first, drop, send(line(2), line(3))])
    connectors = manager(rt, connector)
    running = await connectors.start(room_id, RelaySpec(platform="douyin"))
    await until(lambda: running.status.received == 3 and running.status.state == "connected")
    assert running.status.reconnects == 2 and running.status.dropped == 1  # m2 again
    chats = await rt.services.store.chats(room_id)
    assert [c.chat.text for c in chats] == ["这个多少钱"] * 3
    assert {c.chat.user.id for c in chats} == {"douyin:u1"}
    await connectors.close()


@pytest.mark.parametrize(
    ("error", "state"),
    [(ConnectorError("bad keys", retryable=False), "failed"), (SourceEnded("left"), "ended")],
)
async def test_a_refusal_or_an_end_stops_without_retrying(
    runtime: tuple[Runtime, str], error: ConnectorError, state: str
) -> None:
    rt, room_id = runtime

    async def refuse(sink: Sink) -> None:
        raise error

    connector = ScriptedConnector([refuse])
    connectors = manager(rt, connector)
    running = await connectors.start(room_id, RelaySpec())
    assert running.task is not None
    await running.task
    assert (running.status.state, connector.runs, running.status.reconnects) == (state, 1, 0)
    await connectors.close()


async def test_platform_names_are_untrusted_and_floods_are_counted(
    runtime: tuple[Runtime, str],
) -> None:
    rt, room_id = runtime
    activities: list[Event] = []
    sub = await rt.services.bus.subscribe(room_id, ["platform.activity", "engagement"])
    likes = [
        PlatformActivity(id=f"l{i}", user=PlatformUser(id="u2", name="粉丝"), kind="like")
        for i in range(40)
    ]
    bought = PlatformActivity(
        id="p1", user=PlatformUser(id="u3", name="买家"), kind="purchase", sku="SKU-1"
    )

    async def step(sink: Sink) -> None:
        sink.connected()
        await sink.chat(line(1, name="主播助理"))
        await sink.chat(line(2, text="   "))
        await sink.frame(b"not an image")
        for item in [*likes, bought]:
            await sink.activity(item)
        await forever(sink)

    connectors = manager(rt, ScriptedConnector([step]))
    running = await connectors.start(room_id, RelaySpec(platform="douyin"))
    await until(lambda: running.status.dropped >= 3)
    chats = await rt.services.store.chats(room_id)
    assert len(chats) == 1 and "主播" not in chats[0].chat.user.name
    while not any(isinstance(a, Engagement) for a in activities):
        activities.append(await asyncio.wait_for(sub.get(), 5))
    shown = [a for a in activities if isinstance(a, Activity)]
    assert 0 < len(shown) < len(likes)  # a flood of likes is cut, the rest counted as dropped
    assert running.status.dropped >= 3 + len(likes) - len(shown) - 1
    sub.close()
    await connectors.close()


async def test_answers_to_platform_questions_are_posted_back_once(
    runtime: tuple[Runtime, str],
) -> None:
    rt, room_id = runtime
    connector = ReplyingConnector([send(line(1, text="有没有优惠券"))])
    connectors = manager(rt, connector)
    running = await connectors.start(room_id, RelaySpec())
    await until(lambda: running.status.received == 1)
    (chat,) = await rt.services.store.chats(room_id)
    bus = rt.services.bus
    await bus.publish(Answer(room_id=room_id, chat_id=chat.chat.id, text="今天满199减20"))
    await bus.publish(Answer(room_id=room_id, chat_id=chat.chat.id, text="不该说的", flagged=True))
    await bus.publish(Answer(room_id=room_id, chat_id="someone-on-our-page", text="别的"))
    await until(lambda: running.status.replies == 1)
    assert [(text, to.id if to else None) for text, to in connector.replies] == [
        ("今天满199减20", "m1")
    ]
    await connectors.close()


async def test_connectors_in_the_settings_start_with_the_service_and_a_bad_one_is_skipped(
    tmp_path: Path,
) -> None:
    first = await Runtime.start(make_settings(tmp_path))
    room_id = (await first.rooms.create(RoomCreate(title="常驻直播间"))).room_id
    await first.stop()
    listed = {room_id: [{"kind": "stream", "url": "pipe:0"}, {"kind": "relay", "token": "t" * 24}]}
    listed["no-such-room"] = [{"kind": "relay"}]
    settings = make_settings(
        tmp_path, connectors=ConnectorSettings.model_validate({"rooms": listed})
    )
    rt = await Runtime.start(settings)
    try:
        (status,) = rt.connectors.statuses(room_id)
        assert status.kind == "relay"
        assert rt.connectors.relay(room_id, status.id, "t" * 24).status is not None
        assert rt.connectors.statuses("no-such-room") == []
    finally:
        await rt.stop()
