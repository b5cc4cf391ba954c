"""The Redis bus against a real redis-server that stops, restarts empty, freezes, loses a
consumer or trims what a reader had not read: it keeps going and says what it lost.

Two bus instances share the server: ``writer`` publishes, ``reader`` subscribes, so what the
reader gets came through Redis (a bus hands its own events to its own readers at publish)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import pytest
from redis.asyncio import Redis

from assistant.bus import BusUnavailable, EventBus, Subscription, create_bus
from assistant.events import BusGap, Event, HostSay, dump_event
from assistant.settings import BusSettings
from tests.faults.redisproc import RedisProcess

pytestmark = pytest.mark.redis

TIMEOUT_S = 0.5  # the buses' socket timeout: a frozen Redis is an error after this


def settings(proc: RedisProcess, prefix: str, **kw: object) -> BusSettings:
    base: dict[str, object] = {
        "backend": "redis",
        "redis_url": proc.url,
        "redis_prefix": prefix,
        "redis_timeout_s": TIMEOUT_S,
        "redis_connect_timeout_s": TIMEOUT_S,
        "redis_backoff_max_s": 0.5,
        "redis_check_every_s": 0.2,
        "redis_claim_idle_s": 0.2,
        "redis_claim_every_s": 0.2,
        "outbox_size": 16,
    }
    return BusSettings.model_validate({**base, **kw})


class Pair(NamedTuple):
    writer: EventBus
    reader: EventBus
    key: str  # the room's lossless stream


@pytest.fixture
async def pair(redis_proc: RedisProcess) -> AsyncIterator[Pair]:
    prefix = f"f{uuid.uuid4().hex[:6]}"
    writer = create_bus(settings(redis_proc, prefix))
    reader = create_bus(settings(redis_proc, prefix))
    try:
        yield Pair(writer, reader, f"{prefix}:room:r")
    finally:
        await writer.close()
        await reader.close()


@pytest.fixture
async def raw(redis_proc: RedisProcess) -> AsyncIterator[Redis]:
    client = Redis(port=redis_proc.port)
    yield client
    await client.aclose()


def say(text: str) -> HostSay:
    return HostSay(room_id="r", text=text)


async def until_text(sub: Subscription, text: str, timeout: float = 10.0) -> list[Event]:
    """Events up to and including the HostSay with ``text``."""
    seen: list[Event] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await sub.get()
            seen.append(event)
            if isinstance(event, HostSay) and event.text == text:
                return seen


def texts(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, HostSay)]


async def fails_fast(call: asyncio.Future[object] | asyncio.Task[object]) -> float:
    """Seconds until ``call`` raised BusUnavailable (it must, within 3 socket timeouts)."""
    start = time.monotonic()
    with pytest.raises(BusUnavailable):
        await asyncio.wait_for(call, 3 * TIMEOUT_S)
    return time.monotonic() - start


async def until_sent(bus: EventBus, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while bus.unreachable_since is not None or bus.backlogged:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_redis_stopped_then_back(pair: Pair, redis_proc: RedisProcess) -> None:
    writer, reader, _ = pair
    fan = await reader.subscribe("r")
    group = await reader.subscribe("r", group="work")
    await writer.publish(say("before"))
    await until_text(fan, "before")
    await until_text(group, "before")

    await redis_proc.stop()
    await fails_fast(asyncio.ensure_future(writer.ping()))
    await fails_fast(asyncio.ensure_future(writer.hold("lease", "me", 5)))
    for n in range(16):
        await writer.publish(say(f"down {n}"))  # kept in the outbox, in order
    with pytest.raises(BusUnavailable):  # a full outbox refuses, at once
        await asyncio.wait_for(writer.publish(say("one too many")), 0.1)

    await redis_proc.start()  # empty: the streams and the group are gone
    # The writer's outbox goes out, the group is created again and the reader resumes.
    got = texts(await until_text(fan, "down 15"))
    assert got == [f"down {n}" for n in range(16)]
    assert texts(await until_text(group, "down 15")) == got
    await writer.publish(say("after"))
    await until_text(fan, "after")
    await until_text(group, "after")
    await until_sent(writer)


async def test_redis_restarted_without_data(
    pair: Pair, redis_proc: RedisProcess, raw: Redis
) -> None:
    writer, reader, key = pair
    fan = await reader.subscribe("r")
    group = await reader.subscribe("r", group="work")
    # An entry with an id an hour ahead puts the reader's position past anything the new,
    # empty stream will hold after the restart: unless it starts again, it reads nothing.
    ahead = f"{int(time.time() * 1000) + 3_600_000}-0"
    await raw.xadd(key, {"e": dump_event(say("ahead"))}, id=ahead)
    await until_text(fan, "ahead")
    await until_text(group, "ahead")

    await redis_proc.restart()
    for n in range(3):
        await writer.publish(say(f"after {n}"))
    seen = await until_text(fan, "after 2")
    assert texts(seen) == ["after 0", "after 1", "after 2"]
    gaps = [e for e in seen if isinstance(e, BusGap)]  # what was in flight may be lost
    assert [g.missed_after for g in gaps] == [ahead]
    assert reader.gaps == 1
    assert texts(await until_text(group, "after 2")) == ["after 0", "after 1", "after 2"]


async def test_a_frozen_redis_never_hangs_a_caller(pair: Pair, redis_proc: RedisProcess) -> None:
    writer, reader, _ = pair
    fan = await reader.subscribe("r")
    redis_proc.pause()
    try:
        for n in range(16):
            # never waits on Redis: the events wait in the outbox
            await asyncio.wait_for(writer.publish(say(f"frozen {n}")), 0.1)
        # the sender's XADDs time out, so the bus knows Redis is unreachable
        async with asyncio.timeout(3 * TIMEOUT_S):
            while writer.unreachable_since is None:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await fails_fast(asyncio.ensure_future(writer.hold("lease", "me", 5)))
        with pytest.raises(BusUnavailable):
            await asyncio.wait_for(writer.publish(say("one too many")), 0.1)
    finally:
        redis_proc.resume()
    assert texts(await until_text(fan, "frozen 15")) == [f"frozen {n}" for n in range(16)]
    await until_sent(writer)
    await writer.publish(say("thawed"))
    await until_text(fan, "thawed")


async def test_a_dead_consumers_entries_are_claimed(pair: Pair, raw: Redis) -> None:
    _, reader, key = pair
    lost = say("read by a consumer that died")
    # Another instance's consumer read the entry and never acknowledged it (kill -9).
    await raw.xgroup_create(key, "work", id="$", mkstream=True)
    await raw.xadd(key, {"e": dump_event(lost)})
    assert await raw.xreadgroup("work", "dead-consumer", {key: ">"}, count=10)
    group = await reader.subscribe("r", group="work")  # nothing new to read: only to claim
    assert [e.id for e in await until_text(group, lost.text)] == [lost.id]
    async with asyncio.timeout(5):
        while (await raw.xpending(key, "work"))["pending"]:  # noqa: ASYNC110 - Redis's state
            await asyncio.sleep(0.05)  # acknowledged by the instance that took it over


async def test_entries_trimmed_unread_are_a_counted_gap(
    redis_proc: RedisProcess, raw: Redis
) -> None:
    reader = create_bus(settings(redis_proc, "gap", redis_maxlen=300))
    try:
        fan = await reader.subscribe("r")
        read: Any = await raw.xadd("gap:room:r", {"e": dump_event(say("read"))})
        await until_text(fan, "read")  # the reader's position is this entry
        async with raw.pipeline(transaction=True) as pipe:
            for n in range(2000):  # in one go: the reader cannot read between them
                pipe.xadd("gap:room:r", {"e": dump_event(say(f"burst {n}"))}, maxlen=300)
            await pipe.execute()
        oldest: Any = await raw.xrange("gap:room:r", count=1)
        first: bytes = oldest[0][0]
        seen = await until_text(fan, "burst 1999")
        assert isinstance(seen[0], BusGap), "the gap comes before what is read after it"
        assert (seen[0].missed_after, seen[0].resumed_at) == (read.decode(), first.decode())
        assert reader.gaps == 1 and len([e for e in seen if isinstance(e, BusGap)]) == 1
        got = texts(seen)
        assert len(got) >= 300 and got == [f"burst {n}" for n in range(2000 - len(got), 2000)]
    finally:
        await reader.close()


async def test_a_reader_behind_but_complete_sees_no_gap(
    redis_proc: RedisProcess, raw: Redis
) -> None:
    reader = create_bus(settings(redis_proc, "behind"))
    try:
        fan = await reader.subscribe("r")
        await raw.xadd("behind:room:r", {"e": dump_event(say("first"))})
        await until_text(fan, "first")
        async with raw.pipeline(transaction=True) as pipe:
            pipe.xadd("behind:room:r", {"e": b"not an event"})  # skipped, never fatal
            for n in range(1000):  # several full reads behind, nothing trimmed
                pipe.xadd("behind:room:r", {"e": dump_event(say(f"line {n}"))})
            await pipe.execute()
        seen = await until_text(fan, "line 999")
        assert texts(seen) == [f"line {n}" for n in range(1000)]
        assert reader.gaps == 0
    finally:
        await reader.close()
