"""A simulated 24 h of the anchor loop on a virtual clock, with real synthesis for a sample."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from assistant.bus.memory import MemoryBus
from assistant.events import (
    Answer,
    AudioChunk,
    CatalogUpdated,
    Event,
    HostSay,
    ScheduleItem,
    ScheduleSet,
    Subtitle,
)
from assistant.store import Store
from avatar.anchor.fillers import load_lines
from avatar.anchor.speech import clauses
from avatar.settings import AvatarSettings
from avatar.tts.mixed import MixedEngine
from tests.avatar.conftest import ROOM, anchor_room, avatar_settings, product, room_info
from tests.fakes.avatar_clock import VirtualClock
from tests.fakes.avatar_scripts import FakeScriptWriter
from tests.fakes.avatar_tts import SampledRealTTS

HOURS = 24


def rss_mb() -> float:
    # Hand freed heap pages back first: glibc keeps per-thread arenas, and in a process that has
    # loaded other models their retained pages would read as growth that is not a leak.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def resumes(said: str, rest: str) -> bool:
    """A sentence an answer cut comes back as its unsaid end, never from its start."""
    return len(rest) < len(said) and said.endswith(rest)


@dataclass
class Soak:
    """Keeps only what the assertions need, so the listener itself does not grow."""

    gap_limit: float
    play_end: float = 0.0
    chunks: int = 0
    max_gap: float = 0.0
    answers: dict[str, float] = field(default_factory=dict)  # answer id -> published at
    answer_delay: dict[str, float] = field(default_factory=dict)
    last_script: tuple[str, int, str] | None = None  # script id, sentence index, subtitle
    script_segments: int = 0
    repeats: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    async def on(self, event: Event) -> None:
        now = asyncio.get_running_loop().time()
        if isinstance(event, AudioChunk):
            if self.chunks and now > self.play_end:
                self.max_gap = max(self.max_gap, now - self.play_end)
            start = max(now, self.play_end)
            self.play_end = start + len(event.data) / 2 / event.sample_rate
            self.chunks += 1
            source, first = event.utterance_id.split(".")[:2]
            if first == "0" and source in self.answers and source not in self.answer_delay:
                self.answer_delay[source] = start - self.answers[source]
        elif isinstance(event, Subtitle):
            self.kinds[event.kind] = self.kinds.get(event.kind, 0) + 1
            if event.kind == "script":
                name, raw = event.utterance_id.split(".")[:2]
                index = int(raw)
                last = self.last_script
                if last is None or last[0] != name:
                    self.script_segments += 1
                elif index < last[1] or (index == last[1] and not resumes(last[2], event.text)):
                    self.repeats += 1  # the same script started again right after itself
                self.last_script = (name, index, event.text)


@pytest.mark.slow
async def test_anchor_soak_24h(bus: MemoryBus, store: Store) -> None:
    clock = VirtualClock()
    clock.install()
    registry = CollectorRegistry()
    settings = avatar_settings(persist_interval_s=30.0)
    writer = FakeScriptWriter(bus, ROOM, delay=(3.0, 25.0), stall=0.1, sentences=8)
    await writer.start()
    engine = MixedEngine(AvatarSettings())
    for i in range(12):  # model arenas grow to their high-water mark first: that is not a leak
        said = f"第{i}号讲解，商品A的第{i}个卖点，品质很好。有现货的亲。"
        for text in [said, *clauses(said), *load_lines(settings.fillers_path, "zh")[i::12]]:
            list(engine.stream(text))
    tts = SampledRealTTS(engine, clock, every=500, seconds_per_char=0.22)
    soak = Soak(settings.gap_limit_s)
    await bus.on(ROOM, soak.on, ["audio.chunk", "subtitle"])
    room = anchor_room(room_info(("A", "B", "C", "D")), bus, store, tts, settings, registry)
    await room.start()
    rng = random.Random(3)
    loop = asyncio.get_running_loop()
    end = loop.time() + HOURS * 3600
    rss: list[float] = []
    try:
        hour = 0
        while loop.time() < end:
            await asyncio.sleep(rng.uniform(60, 400))
            answer = Answer(
                room_id=ROOM, chat_id=f"c{hour}", text="有现货的亲。下单后四十八小时内发货。"
            )
            soak.answers[answer.id] = loop.time()
            await bus.publish(answer)
            now_hour = int((loop.time() - (end - HOURS * 3600)) // 3600)
            if now_hour == hour:
                continue
            hour = now_hour
            writer.stall = 1.0 if hour in (9, 10) else 0.1  # a two-hour LLM outage
            if hour % 5 == 0:
                await bus.publish(HostSay(room_id=ROOM, text="库存只剩最后一百件了！"))
            if hour == 6:
                items = [ScheduleItem(sku="B", pinned=True), ScheduleItem(sku="A", weight=3)]
                await bus.publish(ScheduleSet(room_id=ROOM, items=items))
            if hour == 12:
                products = [product(s) for s in ("A", "B", "E")]
                await bus.publish(CatalogUpdated(room_id=ROOM, products=products))
            gc.collect()
            rss.append(rss_mb())
        await asyncio.sleep(60)  # let the last answer be spoken
    finally:
        await room.close()
        await writer.close()
        clock.uninstall()

    assert soak.play_end - (end - HOURS * 3600) >= HOURS * 3600  # 24 h of audio went out
    assert soak.max_gap <= settings.gap_limit_s, soak.max_gap
    assert registry.get_sample_value("avatar_audio_gaps_over_limit_total") == 0
    assert soak.repeats == 0 and soak.script_segments > 100
    assert soak.kinds.get("filler", 0) > 0 and soak.kinds.get("host", 0) >= 4
    assert len(soak.answer_delay) == len(soak.answers) > 100
    assert max(soak.answer_delay.values()) <= settings.answer_deadline_s
    assert registry.get_sample_value("avatar_answers_late_total") == 0
    assert len(rss) >= HOURS - 1 and max(rss[2:]) - rss[1] < 50, rss
    assert len(tts.real) >= 10  # real synthesis ran inside the loop for a sample
    assert min(peak for _, peak, _ in tts.real) > 0.05
    assert sum(seconds for _, _, seconds in tts.real) > 30
