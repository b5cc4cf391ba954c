"""The Redis bus against a real redis-server that stops, restarts empty, freezes, loses a
consumer or trims what a reader had not read: it keeps going and says what it lost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from assistant.bus import EventBus, Subscription, create_bus
from assistant.events import BusGap, Event, HostSay, dump_event
from assistant.settings import BusSettings
from tests.faults.redisproc import RedisProcess

pytestmark = pytest.mark.redis


def settings(proc: RedisProcess, **kw: object) -> BusSettings:
    base: dict[str, object] = {
        "backend": "redis",
        "redis_url": proc.url,
        "redis_prefix": f"f{uuid.uuid4().hex[:6]}",
        "redis_timeout_s": 0.5,
        "redis_claim_idle_s": 0.2,
        "redis_claim_every_s": 0.2,
    }
    return BusSettings.model_validate({**base, **kw})


@pytest.fixture
async def bus(redis_proc: RedisProcess) -> AsyncIterator[EventBus]:
    made = create_bus(settings(redis_proc))
    yield made
    await made.close()


async def until_text(sub: Subscription, text: str, timeout: float = 15.0) -> list[Event]:
    """Events up to and including the HostSay with ``text``."""
    seen: list[Event] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await sub.get()
            seen.append(event)
            if isinstance(event, HostSay) and event.text == text:
                return seen


async def test_redis_stopped_then_back(bus: EventBus, redis_proc: RedisProcess) -> None:
    fan = await bus.subscribe("r")
    group = await bus.subscribe("r", group="work")
    await redis_proc.stop()
    held = HostSay(room_id="r", text="while down")
    await bus.publish(held)  # kept in the outbox, not raised
    with pytest.raises(Exception):  # noqa: B017 - whatever redis-py raises: it is down
        await bus.ping()
    await redis_proc.start()
    await until_text(fan, "while down")
    await until_text(group, "while down")
    await bus.publish(HostSay(room_id="r", text="after"))
    await until_text(fan, "after")
    await until_text(group, "after")
    async with asyncio.timeout(5):
        while bus.unreachable_since is not None or bus.backlogged:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_redis_restarted_without_data(bus: EventBus, redis_proc: RedisProcess) -> None:
    fan = await bus.subscribe("r")
    group = await bus.subscribe("r", group="work")
    await bus.publish(HostSay(room_id="r", text="before"))
    await until_text(fan, "before")
    await until_text(group, "before")
    await redis_proc.restart()  # the group and the stream are gone
    for n in range(3):
        await bus.publish(HostSay(room_id="r", text=f"after {n}"))
    await until_text(group, "after 2")
    await until_text(fan, "after 2")


async def test_a_frozen_redis_never_hangs_a_publisher(
    bus: EventBus, redis_proc: RedisProcess
) -> None:
    fan = await bus.subscribe("r")
    redis_proc.pause()
    try:
        for n in range(5):
            # never waits on Redis: the events wait in the outbox
            await asyncio.wait_for(bus.publish(HostSay(room_id="r", text=f"frozen {n}")), 0.1)
        async with asyncio.timeout(5):
            while bus.unreachable_since is None:  # noqa: ASYNC110 - the send times out
                await asyncio.sleep(0.05)
        assert bus.backlogged == 5
    finally:
        redis_proc.resume()
    await until_text(fan, "frozen 4")


async def test_a_dead_consumers_entries_are_claimed(
    bus: EventBus, redis_proc: RedisProcess
) -> None:
    group = await bus.subscribe("r", group="work")
    raw = Redis(port=redis_proc.port)
    try:
        key = f"{bus._prefix}:room:r"  # type: ignore[attr-defined]
        lost = HostSay(room_id="r", text="read by a consumer that died")
        # Another consumer reads the entry and never acknowledges it (it was kill -9'd).
        await raw.xadd(key, {"e": dump_event(lost)})
        await raw.xreadgroup("work", "dead-consumer", {key: ">"}, count=10)
        await until_text(group, lost.text)
    finally:
        await raw.aclose()


async def test_entries_trimmed_unread_are_a_counted_gap(redis_proc: RedisProcess) -> None:
    bus = create_bus(settings(redis_proc, redis_maxlen=300))
    try:
        fan = await bus.subscribe("r")
        await bus.publish(HostSay(room_id="r", text="read"))
        await until_text(fan, "read")
        raw = Redis(port=redis_proc.port)
        key = f"{bus._prefix}:room:r"  # type: ignore[attr-defined]
        async with raw.pipeline(transaction=True) as pipe:
            for n in range(2000):  # in one go: the reader cannot keep up between them
                event = HostSay(room_id="r", text=f"burst {n}")
                pipe.xadd(key, {"e": dump_event(event)}, maxlen=300, approximate=False)
            await pipe.execute()
        await raw.aclose()
        seen = await until_text(fan, "burst 1999")
        gaps = [e for e in seen if isinstance(e, BusGap)]
        assert gaps and bus.gaps >= 1
        texts = [e.text for e in seen if isinstance(e, HostSay)]
        assert texts == [f"burst {n}" for n in range(2000 - len(texts), 2000)]
    finally:
        await bus.close()
