"""Scripts reach the anchor a sentence at a time, never twice; it speaks from its first second."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from assistant.approved import Approved, ApprovedScript
from assistant.brain.answers.metrics import BrainMetrics
from assistant.brain.answers.room import RoomContext
from assistant.brain.llm.base import Message
from assistant.brain.llm.settings import LLMSettings, ScriptSettings
from assistant.brain.scripts.writer import ScriptWriter
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.compliance import load_gate
from assistant.events import Event, Script, ScriptDelta, ScriptRequest
from assistant.plugins import RoomInfo
from assistant.repeats import Repeats
from assistant.stage import StageOwner
from assistant.store import SqliteStore, Store
from avatar.anchor.room import AnchorRoom
from avatar.capability import AvatarCapability
from tests.avatar.conftest import ROOM, ROOT, Heard, anchor_room, avatar_settings, listen, room_info
from tests.fakes.assistant_llm import ScriptedLLM
from tests.fakes.avatar_clock import VirtualClock
from tests.fakes.avatar_tts import FakeTTS
from tests.services import core_services
from tests.waits import until


def anchor(bus: MemoryBus, store: Store, tts: FakeTTS, info: RoomInfo | None = None,
           registry: CollectorRegistry | None = None, **kw: object) -> AnchorRoom:  # fmt: skip
    registry = registry or CollectorRegistry()
    return anchor_room(info or room_info(("A",)), bus, store, tts, avatar_settings(**kw), registry)


async def send(bus: MemoryBus, request_id: str, said: list[str], *, final: bool = True) -> None:
    """What the writer streams: one delta per sentence, then (``final``) the whole script."""
    for sentence in said:
        await bus.publish(ScriptDelta(room_id=ROOM, request_id=request_id, sku="A", delta=sentence))
    if final:
        await bus.publish(Script(room_id=ROOM, request_id=request_id, sku="A",
                                 text="".join(said), style="energetic"))  # fmt: skip


async def test_sentences_are_queued_as_they_stream(bus: MemoryBus, store: Store) -> None:
    release = asyncio.Event()
    said = ["第一句先到了。", "第二句也到了。", "最后一句等一等。"]

    async def writer(event: Event) -> None:
        assert isinstance(event, ScriptRequest)
        for sentence in said[:2]:
            await bus.publish(
                ScriptDelta(room_id=ROOM, request_id=event.id, sku="A", delta=sentence)
            )
        await release.wait()
        await bus.publish(ScriptDelta(room_id=ROOM, request_id=event.id, sku="A", delta=said[2]))
        await bus.publish(Script(room_id=ROOM, request_id=event.id, sku="A",
                                 text="".join(said), style="energetic"))  # fmt: skip

    await bus.on(ROOM, writer, ["script.request"])
    heard = Heard()
    await listen(bus, heard)
    room = anchor(bus, store, FakeTTS(seconds_per_char=0.001))
    await room.start()
    try:
        await until(lambda: {s.text for s in heard.subtitles} >= set(said[:2]))
        assert said[2] not in {s.text for s in heard.subtitles}  # spoken before the script ended
        release.set()
        await until(lambda: said[2] in {s.text for s in heard.subtitles})
    finally:
        release.set()
        await room.close()


async def test_a_sentence_said_lately_is_not_queued_again(bus: MemoryBus, store: Store) -> None:
    scripts = iter([["讲一下这款杯子。", "保温效果很好，一整天都热。"],
                    ["保温效果很好，一整天都热！", "颜色也很耐看。"]])  # fmt: skip

    async def writer(event: Event) -> None:
        assert isinstance(event, ScriptRequest)
        said = next(scripts, None)
        if said is None:
            return
        for sentence in said:
            await bus.publish(
                ScriptDelta(room_id=ROOM, request_id=event.id, sku="A", delta=sentence)
            )
        await bus.publish(Script(room_id=ROOM, request_id=event.id, sku="A",
                                 text="".join(said), style="energetic"))  # fmt: skip

    await bus.on(ROOM, writer, ["script.request"])
    registry = CollectorRegistry()
    room = anchor(bus, store, FakeTTS(seconds_per_char=0.2), registry=registry, low_watermark=5)
    await room.start()
    try:
        await until(lambda: "颜色也很耐看。" in [u["text"] for u in room.queue.dump()])
        texts = [u["text"] for u in room.queue.dump()] + (
            [room.voice.current.text] if room.voice.current else []
        )
        assert sum(t.startswith("保温效果很好") for t in texts) <= 1
        assert registry.get_sample_value("avatar_repeats_skipped_total") == 1
    finally:
        await room.close()


async def test_an_approved_script_is_spoken_verbatim(bus: MemoryBus, store: Store) -> None:
    requests: list[ScriptRequest] = []

    async def writer(event: Event) -> None:
        assert isinstance(event, ScriptRequest)
        requests.append(event)

    await bus.on(ROOM, writer, ["script.request"])
    approved = Approved()
    text = "主播亲自改过的开场。这一段一字不改。"
    approved.set("A", ApprovedScript(request_id="r-ok", text=text), True)
    await approved.save(store, ROOM)
    heard = Heard()
    await listen(bus, heard)
    room = anchor(bus, store, FakeTTS(seconds_per_char=0.001))
    await room.start()
    try:
        await until(lambda: sum(s.kind == "script" for s in heard.subtitles) >= 2)
        spoken = [s.text for s in heard.subtitles if s.kind == "script"][:2]
        assert "".join(spoken) == text and not requests
    finally:
        await room.close()


async def test_the_voice_is_warm_before_the_first_line(
    bus: MemoryBus, store: Store, registry: CollectorRegistry, tmp_path: Path
) -> None:
    from assistant.settings import Settings, StoreSettings

    order: list[str] = []

    class Recording(FakeTTS):
        async def warmup(self, text: str = "你好") -> None:
            order.append("warm")
            await super().warmup(text)

        async def synthesize(self, text: str):  # type: ignore[no-untyped-def]
            order.append("say")
            async for chunk in super().synthesize(text):
                yield chunk

    tts = Recording(seconds_per_char=0.01)
    settings = Settings(store=StoreSettings(path=tmp_path / "x.sqlite3"))
    cap = AvatarCapability(core_services(settings, bus, store, registry)[0], tts=tts)
    await cap.open_room(room_info())
    try:
        await until(lambda: "say" in order)
        assert order[0] == "warm" and tts.warmed == 1
    finally:
        await cap.close()


_OPEN = [
    "说真的，",
    "大家看，",
    "再说一点，",
    "顺便提一下，",
    "还有就是，",
    "重点来了，",
    "注意哦，",
]
_FACT = re.compile(r"这一段[^：]*：(.+)\n")


@pytest.mark.slow
async def test_thirty_minutes_of_anchor_without_repeats_or_silence(tmp_path: Path) -> None:
    """The real writer (its model faked) feeding a real anchor loop for 30 virtual minutes."""
    clock = VirtualClock()
    clock.install()
    bus, store = MemoryBus(), SqliteStore(tmp_path / "s.sqlite3")
    n = iter(range(100_000))

    def model(messages: list[Message]) -> str:
        m = _FACT.search(messages[-1].content)
        fact = m.group(1) if m else "这款很实用"
        return f"{_OPEN[next(n) % len(_OPEN)]}{fact}。"

    catalog = Catalog.model_validate(json.loads((ROOT / "data/demo_catalog.json").read_text()))
    info = RoomInfo(room_id=ROOM, title="t", mode="anchor", language="zh", catalog=catalog)
    stage = StageOwner(bus, store)
    await stage.open_room(info)
    writer = ScriptWriter(
        bus=bus,
        store=store,
        llm=ScriptedLLM(model, delay=0.3),
        gate=load_gate(ROOT / "data/compliance"),
        settings=ScriptSettings(),
        llm_settings=LLMSettings(),
        metrics=BrainMetrics(CollectorRegistry()),
    )
    ctx = RoomContext(ROOM, "zh", catalog, stage)
    tasks: set[asyncio.Task[object]] = set()

    async def on(event: Event) -> None:
        if isinstance(event, ScriptRequest):
            task = asyncio.create_task(writer.write(ctx, event))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    await bus.on(ROOM, on, ["script.request"])
    heard = Heard()
    await listen(bus, heard, keep=False)
    tts = FakeTTS(seconds_per_char=0.22)
    registry = CollectorRegistry()
    room = anchor(bus, store, tts, info=info, registry=registry)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await room.start()
    try:
        await asyncio.sleep(30 * 60)
    finally:
        await room.close()
        stage.close()
        clock.uninstall()
    spoken = [s.text for s in heard.subtitles]
    assert heard.play_end - start >= 30 * 60 - 5  # half an hour of speech went out
    first = min(heard.starts.values())
    assert first - start <= 1.0 and heard.max_gap <= 3.0, (first - start, heard.max_gap)
    said, repeats = Repeats(), []
    for text in spoken:
        if said.is_repeat(text):
            repeats.append(text)
        said.add(text)
    kinds = [s.kind for s in heard.subtitles]
    ids = [s.utterance_id for s in heard.subtitles if s.text in repeats]
    assert not repeats, (repeats[:5], {k: kinds.count(k) for k in set(kinds)}, ids)
    assert sum(s.kind == "script" for s in heard.subtitles) > 200
