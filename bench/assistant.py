"""Chat Q&A benchmark: viewers' questions through understanding and the answerer, scored."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from assistant.brain.answers.answerer import Answerer, Outcome
from assistant.brain.answers.guard import numbers
from assistant.brain.answers.metrics import BrainMetrics
from assistant.brain.answers.room import RoomContext
from assistant.brain.answers.select import prime
from assistant.brain.llm import LLM, LLMSettings
from assistant.brain.llm.llamacpp import LlamaCppLLM
from assistant.brain.llm.models import model_path
from assistant.brain.llm.settings import AnswerSettings
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.compliance import load_gate
from assistant.embedders import EmbedderPool
from assistant.events import Chat, ChatTriaged, StageSet, User
from assistant.plugins import RoomInfo
from assistant.stage import StageOwner
from assistant.store import SqliteStore, Store
from assistant.understand.service import Understander
from assistant.understand.settings import UnderstandSettings
from bench.common import median, pct, write_result

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = Path("~/.cache/live-commerce").expanduser()


def load_items(splits: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for split in splits:
        items += json.loads((ROOT / f"data/eval/qa/{split}.json").read_text())["items"]
    return items


def catalog_of(name: str) -> Catalog:
    path = "data/demo_catalog.json" if name == "demo" else f"data/eval/catalogs/{name}.json"
    return Catalog.model_validate_json((ROOT / path).read_text())


@dataclass
class Rig:
    """The real understanding step and answerer on a memory bus, one room per catalog."""

    bus: MemoryBus
    stage: StageOwner
    understander: Understander
    answerer: Answerer
    rooms: dict[str, RoomContext]

    async def ask(self, room: str, item: dict[str, Any], n: int, llm_ready: bool) -> Outcome:
        ctx = self.rooms[room]
        if self.stage.sku(room) != item["stage_sku"]:
            await self.bus.publish(StageSet(room_id=room, sku=item["stage_sku"]))
            while self.stage.sku(room) != item["stage_sku"]:  # noqa: ASYNC110 - bus delivery
                await asyncio.sleep(0.001)
        user = User(id=f"v{n}", name="viewer")
        for line in item["history"]:
            await self.understander.read(Chat(room_id=room, user=user, text=line))
        chat = Chat(room_id=room, user=user, text=item["question"])
        understood = await self.understander.read(chat)
        triaged = ChatTriaged(room_id=room, chat=chat, understanding=understood)
        return await self.answerer.answer(ctx, triaged, llm_ready=llm_ready)


async def make_rig(store: Store, llm: LLM | None, names: list[str], copies: int) -> Rig:
    """Rooms for every catalog; with a model, the grounded selection is on and warm."""
    bus = MemoryBus()
    stage = StageOwner(bus, store)
    understander = Understander(UnderstandSettings(), bus, stage, EmbedderPool())
    answerer = Answerer(
        bus=bus, store=store, llm=llm, gate=load_gate(ROOT / "data/compliance"),
        settings=AnswerSettings(select_with_llm=llm is not None),
        llm_settings=LLMSettings(first_token_timeout_s=30, timeout_s=60),
        metrics=BrainMetrics(CollectorRegistry()),
    )  # fmt: skip
    rooms: dict[str, RoomContext] = {}
    for name in names:
        catalog = catalog_of(name)
        for copy in range(copies):
            room = f"{name}-{copy}"
            info = RoomInfo(room_id=room, title=room, mode="host", language="zh", catalog=catalog)
            await stage.open_room(info)
            await understander.open_room(info)
            rooms[room] = RoomContext(room, "zh", catalog, stage)
        if llm is not None:  # a room that has run a while: its index and cards are warm
            for item in [None, *catalog.products]:
                await prime(llm, catalog, "zh", f"{name}/prime", item)
    return Rig(bus, stage, understander, answerer, rooms)


def _has(expected: str, text: str) -> bool:
    """A fact is stated if its numbers are, else its exact words."""
    want = numbers(expected)
    return want <= numbers(text) if want else expected.casefold() in text.casefold()


def verdict(item: dict[str, Any], out: Outcome) -> str:
    """correct | wrong_product | wrong | unknown | clarify | skipped (what the bot did)."""
    if out.status == "skipped":
        return "skipped"
    if out.source == "unknown":
        return "unknown"
    if out.source == "clarify":
        return "correct" if item["outcome"] == "clarify" else "clarify"
    skus = item["skus"]
    if out.sku is not None and out.sku not in skus and (skus or item["outcome"] != "answer"):
        return "wrong_product"
    if item["outcome"] != "answer":
        return "wrong"
    return "correct" if all(_has(e, out.text) for e in item["expect"]) else "wrong"


def right(item: dict[str, Any], out: Outcome) -> bool:
    """The bot did what the item asks: the facts, the question back, or "I don't know"."""
    said = verdict(item, out)
    return said == "correct" or (item["outcome"] == "unknown" and said == "unknown")


def score(results: list[tuple[dict[str, Any], Outcome]]) -> dict[str, Any]:
    answerable = [(i, o) for i, o in results if i["outcome"] == "answer"]
    unknowable = [(i, o) for i, o in results if i["outcome"] == "unknown"]
    said_unknown = [(i, o) for i, o in results if verdict(i, o) == "unknown"]
    verdicts = Counter(verdict(i, o) for i, o in results)
    ttft = [o.first_token_s for _, o in results if o.first_token_s is not None]
    llm = [o.first_token_s for _, o in results if o.source == "llm" and o.first_token_s]
    return {
        "n": len(results),
        "accuracy": sum(verdict(i, o) == "correct" for i, o in answerable)
        / max(len(answerable), 1),
        "clarify_correct": sum(verdict(i, o) == "correct" for i, o in results
                               if i["outcome"] == "clarify"),
        "wrong_product": verdicts["wrong_product"],
        "wrong": verdicts["wrong"],
        "unknown_recall": sum(verdict(i, o) == "unknown" for i, o in unknowable)
        / max(len(unknowable), 1),
        "unknown_precision": sum(i["outcome"] == "unknown" for i, _ in said_unknown)
        / max(len(said_unknown), 1),
        "refused_answerable": sum(verdict(i, o) == "unknown" for i, o in answerable),
        "verdicts": dict(verdicts),
        "sources": dict(Counter(o.source for _, o in results)),
        "ttft_p50_ms": median(ttft) * 1000, "ttft_p95_ms": pct(ttft, 0.95) * 1000,
        "llm_ttft_p50_ms": median(llm) * 1000, "llm_ttft_p95_ms": pct(llm, 0.95) * 1000,
        "by_kind": {k: f"{sum(right(i, o) for i, o in results if i['kind'] == k)}"
                    f"/{sum(1 for i, _ in results if i['kind'] == k)}"
                    for k in sorted({i["kind"] for i, _ in results})},
    }  # fmt: skip


async def run(rig: Rig, items: list[dict[str, Any]], copies: int, llm_ready: bool) -> list[Any]:
    """Rooms answer their share of the items concurrently (one room per catalog and copy)."""
    results: list[tuple[dict[str, Any], Outcome]] = []

    async def room(copy: int) -> None:
        for n, item in enumerate(items[copy::copies]):
            out = await rig.ask(f"{item['catalog']}-{copy}", item, n, llm_ready)
            results.append((item, out))

    await asyncio.gather(*(room(c) for c in range(copies)))
    return results


def show(name: str, s: dict[str, Any]) -> None:
    print(f"{name:16s} acc={s['accuracy']:.3f} wrong_product={s['wrong_product']} "
          f"wrong={s['wrong']} unknown P/R={s['unknown_precision']:.2f}/{s['unknown_recall']:.2f} "
          f"ttft p50={s['ttft_p50_ms']:.1f}ms p95={s['ttft_p95_ms']:.1f}ms "
          f"(llm p95 {s['llm_ttft_p95_ms']:.0f}ms)")  # fmt: skip


async def measure(
    store: Store, llm: LLM | None, items: list[dict[str, Any]], rooms: list[int], verbose: bool
) -> dict[str, Any]:
    """Every item through 1 and 4 concurrent rooms; scores per split."""
    splits = sorted({i["split"] for i in items})
    names = sorted({i["catalog"] for i in items})
    out: dict[str, Any] = {}
    for copies in rooms:
        rig = await make_rig(store, llm, names, copies)
        t0 = time.perf_counter()
        results = await run(rig, items, copies, llm is not None)
        out[f"wall_s_{copies}room"] = round(time.perf_counter() - t0, 1)
        for split in splits:
            out[f"{split}_{copies}room"] = score(
                [(i, o) for i, o in results if i["split"] == split]
            )
            show(f"{'llm' if llm else 'code'} {split} x{copies}", out[f"{split}_{copies}room"])
        if verbose and copies == rooms[0]:
            for i, o in results:  # the tuning part only: the held-out part is never read
                if i["split"] == "tune" and verdict(i, o) != "correct":
                    print(verdict(i, o), i["id"], i["question"], i["skus"], i["expect"], "->",
                          o.sku, o.source, o.text[:70])  # fmt: skip
        rig.understander.close()
        rig.stage.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--splits", default="tune,heldout")
    ap.add_argument(
        "--llm", choices=["default", "fast", "none"], default="default",
        help="also measure with the grounded LLM selection on, with this preset",
    )  # fmt: skip
    ap.add_argument("--rooms", default="1,4")
    ap.add_argument("--cache-mb", type=int, default=1024, help="llama.cpp prefix states kept")
    ap.add_argument("--verbose", action="store_true", help="print tune answers that are not right")
    args = ap.parse_args()
    items = load_items(args.splits.split(","))
    rooms = [int(r) for r in args.rooms.split(",")]
    out: dict[str, Any] = {"items": len(items), "splits": args.splits.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "b.sqlite3")
        out["default"] = await measure(store, None, items, rooms, args.verbose)
        if args.llm != "none":
            settings = LLMSettings(preset=args.llm, prefix_cache_mb=args.cache_mb)
            llm = LlamaCppLLM(settings, model_path(MODEL_DIR, args.llm))
            await llm.start()
            out["llm_select"] = {"preset": args.llm}
            out["llm_select"] |= await measure(store, llm, items, rooms, args.verbose)
            await llm.close()
        await store.close()
    if "heldout_1room" in out["default"]:
        held = out["default"]["heldout_1room"]
        timed = out.get("llm_select", out["default"])
        out |= {"heldout_accuracy": held["accuracy"], "wrong_product": held["wrong_product"],
                "unknown_precision": held["unknown_precision"],
                "unknown_recall": held["unknown_recall"],
                "ttft_p95_ms": max(timed[f"heldout_{c}room"]["ttft_p95_ms"]
                                   for c in rooms)}  # fmt: skip
        write_result("assistant", out)


if __name__ == "__main__":
    asyncio.run(main())
