"""The bus's outbox: while the backend is down, lossless events wait in order and go out once
it is back; lossy and stale ones are dropped; only a full outbox refuses."""

from __future__ import annotations

import asyncio
import time

import pytest

from assistant.bus import BusUnavailable
from assistant.events import AudioChunk, Frame, HostSay
from tests.fakes.flaky_bus import FlakyBus


async def test_events_published_while_down_arrive_in_order_once_it_is_back() -> None:
    bus = FlakyBus()
    sub = await bus.subscribe("r")
    bus.down = True
    sent = [HostSay(room_id="r", text=str(i)) for i in range(5)]
    for event in sent:
        await bus.publish(event)  # held, not raised
    assert bus.backlogged == len(sent) and sub.depth() == 0
    bus.down = False
    got = [await asyncio.wait_for(sub.get(), 5) for _ in sent]
    assert [e.id for e in got] == [e.id for e in sent]
    assert bus.backlogged == 0
    await bus.close()


async def test_lossy_and_stale_events_are_dropped_not_replayed() -> None:
    bus = FlakyBus()
    sub = await bus.subscribe("r")
    bus.down = True
    await bus.publish(Frame(room_id="r", data=b"x"))
    old = AudioChunk(room_id="r", seq=1, utterance_id="u", text="t", sample_rate=16000,
                     data=b"\0\0", ts=time.time() - 60)  # fmt: skip
    await bus.publish(old)
    keep = HostSay(room_id="r", text="kept")
    await bus.publish(keep)
    assert bus.backlogged == 1 and bus.dropped_while_down == 2
    bus.down = False
    assert (await asyncio.wait_for(sub.get(), 5)).id == keep.id
    await bus.close()


async def test_a_full_outbox_refuses_with_a_typed_error() -> None:
    bus = FlakyBus(outbox_size=3)
    bus.down = True
    for i in range(3):
        await bus.publish(HostSay(room_id="r", text=str(i)))
    assert not bus.accepting()
    with pytest.raises(BusUnavailable):
        await bus.publish(HostSay(room_id="r", text="one too many"))
    await bus.close()
