"""The bus's outbox: local readers get every event at once; while the backend is down, the
lossless ones wait in order for the other instances and go out once it is back; lossy and
stale ones are dropped; only a full outbox refuses."""

from __future__ import annotations

import asyncio
import time

import pytest

from assistant.bus import BusUnavailable
from assistant.events import AudioChunk, Frame, HostSay
from tests.fakes.flaky_bus import FlakyBus
from tests.waits import until


async def test_while_down_local_readers_go_on_and_the_rest_goes_out_in_order() -> None:
    bus = FlakyBus()
    sub = await bus.subscribe("r")
    bus.down = True
    sent = [HostSay(room_id="r", text=str(i)) for i in range(5)]
    for event in sent:
        await bus.publish(event)  # never waits on, nor raises for, the backend
    assert [(await asyncio.wait_for(sub.get(), 1)).id for _ in sent] == [e.id for e in sent]
    await until(lambda: bus.unreachable_since is not None)
    assert bus.backlogged == len(sent) and not bus.remote
    bus.down = False
    await until(lambda: bus.backlogged == 0)
    assert [e.id for e in bus.remote] == [e.id for e in sent]
    assert bus.unreachable_since is None
    await bus.close()


async def test_lossy_and_stale_events_are_not_replayed() -> None:
    bus = FlakyBus()
    bus.down = True
    await bus.publish(HostSay(room_id="r", text="first"))
    await until(lambda: bus.unreachable_since is not None)
    await bus.publish(Frame(room_id="r", data=b"x"))
    old = AudioChunk(room_id="r", seq=1, utterance_id="u", text="t", sample_rate=16000,
                     data=b"\0\0", ts=time.time() - 60)  # fmt: skip
    await bus.publish(old)
    keep = HostSay(room_id="r", text="kept")
    await bus.publish(keep)
    await until(lambda: bus.dropped_while_down == 2)
    bus.down = False
    await until(lambda: bus.backlogged == 0)
    assert [e.type for e in bus.remote] == ["host.say", "host.say"]
    await bus.close()


async def test_a_full_outbox_refuses_before_anyone_got_the_event() -> None:
    bus = FlakyBus(outbox_size=3)
    sub = await bus.subscribe("r")
    bus.down = True
    for i in range(3):
        await bus.publish(HostSay(room_id="r", text=str(i)))
    assert not bus.accepting()
    with pytest.raises(BusUnavailable):
        await bus.publish(HostSay(room_id="r", text="one too many"))
    assert sub.depth() == 3
    await bus.close()
