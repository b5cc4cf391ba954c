"""A bus gap: what this instance's readers missed comes back from the store, once."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.events import Answer, BusGap, Chat, User
from assistant.plugins import RoomInfo
from assistant.recover import GapRecovery
from assistant.store import SqliteStore


async def test_missed_chat_and_answers_come_back_from_the_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus, store = MemoryBus(), SqliteStore(tmp_path / "s.sqlite3")
    recovery = GapRecovery(bus, store)
    info = RoomInfo(room_id="r", title="t", mode="host", language="zh", catalog=Catalog())
    await recovery.open_room(info)
    viewer = await bus.subscribe("r", ["chat", "answer"])
    now = time.time()
    # Accepted and answered on another instance; the stream lost them before we read them.
    asked = Chat(room_id="r", user=User(id="v", name="小王"), text="多少钱", ts=now)
    old = Chat(room_id="r", user=User(id="v", name="小王"), text="早就看过", ts=now - 600)
    await store.add_chat(old, "skipped")
    await store.add_chat(asked, "answered")
    answer = Answer(room_id="r", chat_id=asked.id, text="59.9元", ts=now + 0.5)
    await store.add_output("r", "answer", answer.model_dump(mode="json"), ref=asked.id)
    gap = BusGap(room_id="r", missed_after=f"{int((now - 1) * 1000)}-0", resumed_at="0-0")
    await bus.publish(gap)
    got = [await asyncio.wait_for(viewer.get(), 2) for _ in range(2)]
    assert [e.id for e in got] == [asked.id, answer.id]  # in time order, the old line not
    with caplog.at_level(logging.WARNING, logger="assistant.recover"):
        await bus.publish(BusGap(room_id="r", missed_after=gap.missed_after, resumed_at="0-0"))
        async with asyncio.timeout(2):
            while "recovered" not in caplog.text:  # noqa: ASYNC110 - the bus's handler task
                await asyncio.sleep(0.01)
    assert viewer.depth() == 0 and recovery.recovered == 2  # nothing twice
    recovery.close()
    await bus.close()
    await store.close()
