"""The anchor loop with a fake voice and a fake script writer, on a virtual clock."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from functools import partial

from prometheus_client import CollectorRegistry

from assistant.bus.memory import MemoryBus
from assistant.events import Answer, HostSay, ScheduleItem, ScheduleSet
from assistant.store import Store
from avatar.anchor.room import STATE_KEY, AnchorRoom
from avatar.settings import AvatarSettings
from tests.avatar.conftest import ROOM, Heard, anchor_room, avatar_settings, listen, room_info
from tests.fakes.avatar_clock import VirtualClock
from tests.fakes.avatar_scripts import FakeScriptWriter
from tests.fakes.avatar_tts import FakeTTS
from tests.waits import until as wait_until


@dataclass
class Rig:
    bus: MemoryBus
    store: Store
    registry: CollectorRegistry
    settings: AvatarSettings
    writer: FakeScriptWriter
    heard: Heard
    tts: FakeTTS
    room: AnchorRoom

    async def restart(self) -> None:
        self.room = make_room(self)
        await self.room.start()

    def metric(self, name: str) -> float:
        return self.registry.get_sample_value(name) or 0.0


def make_room(rig: Rig) -> AnchorRoom:
    registry = CollectorRegistry() if rig.room else rig.registry
    return anchor_room(room_info(), rig.bus, rig.store, rig.tts, rig.settings, registry)


async def start_rig(
    bus: MemoryBus, store: Store, registry: CollectorRegistry, **writer: object
) -> Rig:
    settings = avatar_settings()
    fake = FakeScriptWriter(bus, ROOM, **writer)  # type: ignore[arg-type]
    await fake.start()
    heard = Heard()
    await listen(bus, heard)
    rig = Rig(bus, store, registry, settings, fake, heard, FakeTTS(), None)  # type: ignore[arg-type]
    rig.room = make_room(rig)
    await rig.room.start()
    return rig


def position(utterance_id: str) -> int:
    return int(utterance_id.split(".")[1])


# virtual time: a long limit costs nothing; poll as the old helper did
until = partial(wait_until, timeout=600.0, poll=0.05)


async def test_answer_goes_first_and_the_script_resumes_where_it_was(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    rig = await start_rig(bus, store, registry, delay=(0.5, 0.5))
    try:
        await until(lambda: any(s.kind == "script" for s in rig.heard.subtitles))
        script_subs = [s for s in rig.heard.subtitles if s.kind == "script"]
        source = script_subs[0].utterance_id.split(".")[0]
        answer = Answer(room_id=ROOM, chat_id="c1", text="这款有现货。今天就能发货。")
        await bus.publish(answer)
        await until(lambda: rig.heard.kinds().count("answer") == 2)
        await asyncio.sleep(30)
        kinds = rig.heard.kinds()
        first_answer = kinds.index("answer")
        between = kinds[kinds.index("script") + 1 : first_answer]
        assert between.count("script") <= 1  # at most the sentence already under way
        after = [s for s in rig.heard.subtitles[first_answer + 2 :] if s.kind == "script"]
        indexes = [
            int(s.utterance_id.split(".")[1]) for s in after if s.utterance_id.startswith(source)
        ]
        before = [
            int(s.utterance_id.split(".")[1])
            for s in rig.heard.subtitles[:first_answer]
            if s.utterance_id.startswith(source)
        ]
        # the rest of the sentence it cut (same index), or the next one: nothing skipped
        assert indexes and indexes[0] in (before[-1], before[-1] + 1)
        assert rig.heard.max_gap < rig.settings.gap_limit_s
    finally:
        await rig.room.close()
        await rig.writer.close()


async def test_host_lines_first_and_gated(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    rig = await start_rig(bus, store, registry, delay=(0.5, 0.5))
    try:
        await until(lambda: len(rig.heard.subtitles) >= 1)
        await bus.publish(Answer(room_id=ROOM, chat_id="c1", text="有的亲。"))
        await bus.publish(HostSay(room_id=ROOM, text="这是全网最好的面霜！"))
        await until(lambda: "answer" in rig.heard.kinds() and "host" in rig.heard.kinds())
        kinds = rig.heard.kinds()
        assert kinds.index("host") < kinds.index("answer")
        host = next(s for s in rig.heard.subtitles if s.kind == "host")
        assert "最好" not in host.text and "面霜" in host.text
    finally:
        await rig.room.close()
        await rig.writer.close()


async def test_a_failing_utterance_is_skipped(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    rig = await start_rig(bus, store, registry, delay=(0.5, 0.5))
    try:
        await until(lambda: len(rig.heard.subtitles) >= 1)
        await bus.publish(Answer(room_id=ROOM, chat_id="c1", text="坏掉的💥句子。"))
        await bus.publish(Answer(room_id=ROOM, chat_id="c2", text="这一句正常。"))
        await until(lambda: any(s.text == "这一句正常。" for s in rig.heard.subtitles))
        assert not any("💥" in s.text for s in rig.heard.subtitles)
        assert rig.metric("avatar_synthesis_failures_total") == 1
        await asyncio.sleep(20)
        assert rig.heard.max_gap < rig.settings.gap_limit_s
    finally:
        await rig.room.close()
        await rig.writer.close()


async def test_never_silent_when_the_llm_stalls(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    rig = await start_rig(bus, store, registry, stall=1.0)
    try:
        await asyncio.sleep(600)
        subs = rig.heard.subtitles
        assert len(subs) > 50 and {s.kind for s in subs} == {"filler"}
        texts = [s.text for s in subs]
        assert all(a != b for a, b in itertools.pairwise(texts))
        assert rig.heard.max_gap < rig.settings.gap_limit_s
        assert rig.metric("avatar_script_timeouts_total") >= 5
        assert rig.metric("avatar_audio_gaps_over_limit_total") == 0
    finally:
        await rig.room.close()
        await rig.writer.close()


async def test_schedule_edits_change_the_rotation(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    rig = await start_rig(bus, store, registry, delay=(0.5, 0.5), sentences=1)
    try:
        items = [ScheduleItem(sku="C", pinned=True), ScheduleItem(sku="A", weight=2)]
        await bus.publish(ScheduleSet(room_id=ROOM, items=items))
        await until(lambda: len(rig.writer.requests) >= 12)
        late = [r.sku for r in rig.writer.requests[4:12]]
        assert set(late) == {"A", "C"} and late.count("C") == 4
        assert all(r.language == "zh" and r.seconds == 60 for r in rig.writer.requests)
    finally:
        await rig.room.close()
        await rig.writer.close()


async def test_resumes_where_it_was_after_a_crash(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    rig = await start_rig(bus, store, registry, delay=(0.5, 0.5), sentences=8)
    await until(lambda: sum(s.kind == "script" for s in rig.heard.subtitles) >= 3)
    await asyncio.sleep(0.5)
    spoken = [s.utterance_id.split(".") for s in rig.heard.subtitles if s.kind == "script"]
    source, index = spoken[-1][0], int(spoken[-1][1])
    last_seq = rig.heard.last_seq
    await rig.room.close(persist=False)  # as a crash leaves it: only what was persisted
    # The position is written by a real disk write, off the virtual clock, so under load it may
    # trail what was heard; the room must resume exactly where the store says it was.
    saved = await store.state(ROOM, STATE_KEY)
    assert saved is not None
    head = saved["current"] or next(u for u in saved["queue"] if u["kind"] == "script")
    rig.heard.subtitles.clear()
    await rig.restart()
    try:
        await until(lambda: any(s.kind == "script" for s in rig.heard.subtitles))
        first = next(s for s in rig.heard.subtitles if s.kind == "script").utterance_id.split(".")
        assert (first[0], int(first[1])) == (head["source"], head["index"])
        assert first[0] == source and int(first[1]) <= index + 1  # this script, not a restart
        assert rig.heard.last_seq > last_seq  # sequence numbers keep growing
    finally:
        await rig.room.close()
        await rig.writer.close()


async def test_an_answer_said_before_a_restart_is_not_said_again(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    """Delivered again after a restart (another instance replaying its stream, on a bus of
    its own), an answer the room already said stays unsaid; a new one is said."""
    rig = await start_rig(bus, store, registry, delay=(0.5, 0.5))
    said = Answer(room_id=ROOM, chat_id="c1", text="有现货的亲。")
    await bus.publish(said)
    await until(lambda: any(s.text == said.text for s in rig.heard.subtitles))
    await rig.room.close()  # persists what it said
    fresh, heard = MemoryBus(), Heard()
    await listen(fresh, heard)
    rig.bus, rig.heard = fresh, heard
    await rig.restart()
    try:
        await fresh.publish(said)
        new = Answer(room_id=ROOM, chat_id="c2", text="明天就能发货。")
        await fresh.publish(new)
        await until(lambda: any(s.text == new.text for s in heard.subtitles))
        assert not any(s.text == said.text for s in heard.subtitles)
    finally:
        await rig.room.close()
        await rig.writer.close()
        await fresh.close()
