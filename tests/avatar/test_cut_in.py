"""Answers cut into a sales sentence at the next clause, voiced ahead, and the rest is said once."""

from __future__ import annotations

import asyncio
import random
from functools import partial

from prometheus_client import CollectorRegistry

from assistant.bus.memory import MemoryBus
from assistant.events import Answer, AudioChunk, Event, Script, ScriptDelta, ScriptRequest
from assistant.store import Store
from avatar.anchor.room import AnchorRoom
from tests.avatar.conftest import ROOM, Heard, anchor_room, avatar_settings, listen, room_info
from tests.fakes.avatar_clock import VirtualClock
from tests.fakes.avatar_tts import FakeTTS
from tests.waits import until as wait_until

# Any common Han characters: each script says new words, so none is skipped as a repeat.
HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
CLAUSE_CHARS = 8


class LongSentences:
    """A writer whose every sentence runs four clauses (about 6 s of fake speech)."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.rng = random.Random(7)
        self.later_clauses: set[str] = set()  # clauses that are not a sentence's first

    def sentence(self) -> str:
        said = ["".join(self.rng.choices(HAN, k=CLAUSE_CHARS - 1)) + "，" for _ in range(4)]
        said[-1] = said[-1][:-1] + "。"
        self.later_clauses.update(said[1:])
        return "".join(said)

    async def on(self, event: Event) -> None:
        assert isinstance(event, ScriptRequest)
        said = [self.sentence() for _ in range(3)]
        for sentence in said:
            await self.bus.publish(
                ScriptDelta(room_id=ROOM, request_id=event.id, sku="A", delta=sentence)
            )
        await self.bus.publish(Script(room_id=ROOM, request_id=event.id, sku="A",
                                      text="".join(said), style="energetic"))  # fmt: skip


async def running(bus: MemoryBus, store: Store, tts: FakeTTS, registry: CollectorRegistry,
                  **kw: object) -> tuple[AnchorRoom, Heard, LongSentences]:  # fmt: skip
    writer = LongSentences(bus)
    await bus.on(ROOM, writer.on, ["script.request"])
    heard = Heard()
    await listen(bus, heard)
    settings = avatar_settings(**kw)
    room = anchor_room(room_info(("A",)), bus, store, tts, settings, registry)
    await room.start()
    return room, heard, writer


# virtual time: a long limit costs nothing; poll as the old helper did
until = partial(wait_until, timeout=120.0, poll=0.05)


def spoken(chunks: list[AudioChunk]) -> list[tuple[str, str]]:
    """(source, clause) in the order they were voiced; a clause's further chunks are not new."""
    out: list[tuple[str, str]] = []
    last: tuple[str, str] | None = None
    for c in chunks:
        key = (c.utterance_id, c.text)
        if c.text and key != last:
            out.append((c.utterance_id.rsplit(".", 1)[0], c.text))
        last = key
    return out


def longest_clause(tts: FakeTTS) -> float:
    return tts.seconds("字" * CLAUSE_CHARS)


async def answer_mid_sentence(
    bus: MemoryBus, heard: Heard, writer: LongSentences
) -> tuple[Answer, float]:
    await until(lambda: any(c.text in writer.later_clauses for c in heard.chunks))
    await asyncio.sleep(0.3)  # inside a clause, not on its edge
    answer = Answer(room_id=ROOM, chat_id="c1", text="这款有现货，今天就能发货。")
    await bus.publish(answer)
    return answer, asyncio.get_running_loop().time()


async def test_an_answer_cuts_in_at_the_next_clause_and_the_rest_is_said_once(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    tts = FakeTTS(seconds_per_char=0.2)
    room, heard, writer = await running(bus, store, tts, registry)
    try:
        answer, asked = await answer_mid_sentence(bus, heard, writer)
        await until(lambda: any(c.utterance_id.startswith(answer.id) for c in heard.chunks))
        await asyncio.sleep(30)
    finally:
        await room.close()
    voiced = spoken(heard.chunks)
    at = next(i for i, (source, _) in enumerate(voiced) if source.startswith(answer.id))
    cut = voiced[at - 1][0]
    before = [clause for source, clause in voiced[:at] if source == cut]
    after = [clause for source, clause in voiced[at:] if source == cut]
    sentence = next(s.text for s in heard.subtitles if s.utterance_id.startswith(cut))
    assert before and after, voiced  # the answer came between two clauses of one sentence
    assert "".join(before + after) == sentence  # nothing said twice, nothing skipped
    start = heard.starts[
        next(c.utterance_id for c in heard.chunks if c.utterance_id.startswith(answer.id))
    ]
    settings = room.settings
    bound = settings.lookahead_s + longest_clause(tts) + settings.cut_in_pause_s + tts.latency
    assert start - asked <= bound, (start - asked, bound)
    assert heard.max_gap < 0.1  # the pause at the switch is audio, not an underrun
    assert registry.get_sample_value("avatar_cut_ins_total") == 1


async def test_answers_are_voiced_ahead_so_a_slow_voice_still_answers_at_the_clause(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    tts = FakeTTS(seconds_per_char=0.2, latency=1.5)  # slower to start than the whole buffer
    room, heard, writer = await running(bus, store, tts, registry)
    try:
        await until(lambda: len(heard.chunks) >= 3)
        answer, asked = await answer_mid_sentence(bus, heard, writer)
        await until(lambda: any(c.utterance_id.startswith(answer.id) for c in heard.chunks))
        await asyncio.sleep(20)
    finally:
        await room.close()
    uid = next(c.utterance_id for c in heard.chunks if c.utterance_id.startswith(answer.id))
    settings = room.settings
    # had the answer been synthesised only when its turn came, 1.5 s more
    assert heard.starts[uid] - asked <= settings.lookahead_s + longest_clause(tts) + 0.3
    # the next clause and the next sentence are voiced ahead too: no gap after the first
    first = min(heard.starts.values())
    assert heard.max_gap < 0.1, heard.max_gap
    assert first < asked


async def test_a_burst_of_answers_gets_its_share_of_the_air_and_no_more(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    tts = FakeTTS(seconds_per_char=0.2)
    room, heard, _ = await running(
        bus, store, tts, registry, answer_share=0.3, answer_deadline_s=3600
    )
    try:
        await until(lambda: len(heard.chunks) >= 3)
        answers = [
            Answer(room_id=ROOM, chat_id=f"c{i}", text=f"第{i}位朋友，这款今天有货。")
            for i in range(30)
        ]
        for answer in answers:
            await bus.publish(answer)
        began = asyncio.get_running_loop().time()
        await asyncio.sleep(120)
        window = [c for c in heard.chunks if heard.starts[c.utterance_id] >= began]
        await until(lambda: all(any(c.utterance_id.startswith(a.id) for c in heard.chunks)
                                for a in answers), timeout=600)  # fmt: skip
    finally:
        await room.close()
    seconds = {True: 0.0, False: 0.0}
    for c in window:
        seconds[any(c.utterance_id.startswith(a.id) for a in answers)] += (
            len(c.data) / 2 / c.sample_rate
        )
    share = seconds[True] / (seconds[True] + seconds[False])
    assert 0.15 <= share <= 0.3 + 0.1, share  # answers go on, sales go on; one answer of slack


async def test_answers_the_room_has_moved_past_are_shown_not_said(
    clock: VirtualClock, bus: MemoryBus, store: Store, registry: CollectorRegistry
) -> None:
    tts = FakeTTS(seconds_per_char=0.2)
    deadline = 15.0
    room, heard, _ = await running(
        bus, store, tts, registry, answer_share=0.3, answer_deadline_s=deadline
    )
    try:
        await until(lambda: len(heard.chunks) >= 3)
        answers = [
            Answer(room_id=ROOM, chat_id=f"c{i}", text=f"第{i}位朋友，这款今天有货。")
            for i in range(12)
        ]
        asked = asyncio.get_running_loop().time()
        for answer in answers:
            await bus.publish(answer)
        await asyncio.sleep(120)
    finally:
        await room.close()
    voiced = [a for a in answers if any(s.utterance_id.startswith(a.id) for s in heard.subtitles)]
    unspoken = registry.get_sample_value("avatar_answers_unspoken_total")
    assert voiced and unspoken  # a backlog this long cannot all be said in time
    assert len(voiced) + unspoken == len(answers)  # each one said or counted, none lost silently
    for a in voiced:
        uid = next(c.utterance_id for c in heard.chunks if c.utterance_id.startswith(a.id))
        assert heard.starts[uid] - asked <= deadline + room.settings.lookahead_s + 1.0
    selling = {s.utterance_id for s in heard.subtitles if s.kind == "script"}
    assert any(asked < heard.starts[uid] < asked + deadline for uid in selling)  # not silenced
