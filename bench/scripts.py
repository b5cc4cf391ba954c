"""Sales-script quality and speed: the model-phrased plan against the code's template, same run."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from assistant.brain.answers.facts import catalog_numbers_text
from assistant.brain.answers.metrics import BrainMetrics
from assistant.brain.answers.room import RoomContext
from assistant.brain.llm import LLM, LLMSettings
from assistant.brain.llm.llamacpp import LlamaCppLLM
from assistant.brain.llm.models import model_path
from assistant.brain.llm.settings import ScriptSettings
from assistant.brain.scripts import quality
from assistant.brain.scripts.checks import backed_prices, backing_text, warm
from assistant.brain.scripts.writer import ScriptWriter
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog, Product
from assistant.compliance import load_gate
from assistant.embedders import UseEmbedder
from assistant.events import Event, ScriptDelta, ScriptRequest
from assistant.plugins import RoomInfo
from assistant.stage import StageOwner
from assistant.store import SqliteStore, Store
from assistant.text import sentences
from avatar.anchor.fillers import load_lines
from avatar.anchor.room import AnchorRoom
from avatar.gate import Gate
from avatar.metrics import AvatarMetrics
from avatar.settings import AvatarSettings
from avatar.tts import create_tts
from avatar.tts.base import ThreadedTTS
from bench.common import median, pct, write_result

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = Path.home() / ".cache/live-commerce"
CATALOGS = ("demo", "fresh_kitchen_snacks", "fresh_outdoor_kids")
STYLES = ("energetic", "gentle", "professional")
LANGS = ("zh", "en")
# An English script says a Chinese card in other words: coverage is judged by meaning there.
EN_COVERED = 0.5
# The first two products of each catalog were read while tuning the plan and the checks; of the
# rest, a third chosen by a hash of the SKU is held out and reported apart.
INSPECTED = 2


def held_out(index: int, sku: str) -> bool:
    return index >= INSPECTED and zlib.crc32(sku.encode()) % 3 == 0


def catalog_of(name: str) -> Catalog:
    path = "data/demo_catalog.json" if name == "demo" else f"data/eval/catalogs/{name}.json"
    return Catalog.model_validate_json((ROOT / path).read_text())


async def speaking_rate(tts: ThreadedTTS, texts: list[str]) -> float:
    """Characters per second of audio, as the anchor's voice speaks these texts."""
    chars = seconds = 0.0
    for text in texts:
        async for chunk in tts.synthesize(text):
            seconds += len(chunk.data) / 2 / chunk.sample_rate
        chars += len(text)
    return chars / seconds


@dataclass
class Run:
    """One script: its text and the numbers the metrics need."""

    product: Product
    lang: str
    style: str
    text: str
    body: dict[str, Any]
    first_s: float | None = None
    first_model_s: float | None = None
    whole_s: float = 0.0


@dataclass
class Rig:
    writer: ScriptWriter
    bus: MemoryBus
    rooms: dict[str, RoomContext]
    deltas: dict[str, list[tuple[float, int | None]]] = field(default_factory=dict)

    async def write(self, room: str, product: Product, lang: str, style: str, sec: int) -> Run:
        req = ScriptRequest(
            room_id=room,
            sku=product.sku,
            style=style,
            seconds=sec,
            language=lang,
        )
        self.deltas[req.id] = []
        start = time.monotonic()
        script = await self.writer.write(self.rooms[room], req)
        assert script is not None
        whole = time.monotonic() - start
        body = (await self.writer.store.outputs(room, "script", limit=1))[-1]
        times = self.deltas.pop(req.id)
        model = [t for t, i in times if i is not None and body["plan"]["sections"][i]["by_model"]]
        return Run(
            product,
            lang,
            style,
            script.text,
            body,
            times[0][0] - start if times else None,
            model[0] - start if model else None,
            whole,
        )

    async def on(self, event: Event) -> None:
        if isinstance(event, ScriptDelta) and event.request_id in self.deltas:
            self.deltas[event.request_id].append((time.monotonic(), event.section))


async def make_rig(store: Store, llm: LLM | None, cps: dict[str, float]) -> Rig:
    bus = MemoryBus()
    stage = StageOwner(bus, store)
    writer = ScriptWriter(
        bus=bus,
        store=store,
        llm=llm,
        gate=load_gate(ROOT / "data/compliance"),
        settings=ScriptSettings(chars_per_second=cps),
        llm_settings=LLMSettings(),
        metrics=BrainMetrics(CollectorRegistry()),
    )
    rig = Rig(writer, bus, {})
    for name in CATALOGS:
        info = RoomInfo(
            room_id=name, title=name, mode="host", language="zh", catalog=catalog_of(name)
        )
        await stage.open_room(info)
        rig.rooms[name] = RoomContext(name, "zh", info.catalog, stage)
        await bus.on(name, rig.on, ["script.delta"])
    return rig


def key_points(product: Product) -> list[str]:
    """What a product's scripts should get across: its selling points and attributes."""
    return product.selling_points + [f"{k}{v}" for k, v in product.attributes.items()]


def en_coverage(embedder: UseEmbedder, points: list[str], texts: list[str]) -> float:
    said = [s for t in texts for s in sentences(t)]
    if not points or not said:
        return 0.0 if points else 1.0
    sims = embedder.embed(points) @ embedder.embed(said).T
    return float(np.mean(sims.max(axis=1) >= EN_COVERED))


def summarise(
    runs: list[Run],
    cps: dict[str, float],
    seconds: int,
    embedder: UseEmbedder,
    gate: Any,
    catalogs: dict[str, Catalog],
) -> dict[str, Any]:
    """The figures per style and over all, from every script of one configuration."""
    by_product: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        by_product[(run.product.sku, run.lang)].append(run)
    across: dict[tuple[str, str], list[float]] = defaultdict(list)
    coverages: dict[str, list[float]] = defaultdict(list)
    for seq in by_product.values():
        texts = [r.text for r in seq]
        for k, run in enumerate(seq[1:], start=1):
            across[(run.style, run.lang)].append(
                quality.repeated_across(texts[max(0, k - 4) : k + 1])
            )
        last3 = texts[-3:]
        points = key_points(seq[0].product)
        coverages[seq[0].lang].append(
            quality.coverage(points, last3)
            if seq[0].lang == "zh"
            else en_coverage(embedder, points, last3)
        )
    shop = {sku: c.shop for c in catalogs.values() for sku in (p.sku for p in c.products)}

    def figures(group: list[Run], style: str | None, lang: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"scripts": len(group)}
        out["repeated_sentence_rate_within"] = statistics.mean(
            quality.repeated_within(r.text) for r in group
        )
        pool = [
            x
            for (s, g), xs in across.items()
            if style in (None, s) and lang in (None, g)
            for x in xs
        ]
        out["repeated_sentence_rate_across"] = statistics.mean(pool) if pool else 0.0
        out["distinct_2"] = statistics.mean(quality.distinct_2(r.text) for r in group)
        sources = [
            (
                r,
                catalog_numbers_text(Catalog(products=[r.product]), r.product)
                + "\n"
                + backing_text(r.product, shop[r.product.sku]),
            )
            for r in group
        ]
        out["unbacked_numbers"] = sum(
            quality.unbacked_numbers(
                r.text,
                src,
                backed_prices(r.product, shop[r.product.sku]),
                {str(r.product.link)},
            )
            for r, src in sources
        )
        out["unbacked_entities"] = sum(quality.unbacked_names(r.text, src) for r, src in sources)
        out["unbacked_examples"] = [
            {"sku": r.product.sku, "lang": r.lang, "sentence": sentence}
            for r, src in sources
            for sentence in sentences(r.text)
            if quality.unbacked_names(sentence, src)
            or quality.unbacked_numbers(
                sentence, src, backed_prices(r.product, shop[r.product.sku]), {str(r.product.link)}
            )
        ][:10]
        out["compliance_hits"] = sum(r.body.get("compliance_changes", 0) for r in group)
        out["compliance_in_speech"] = sum(
            quality.compliance_terms(r.text, gate, r.product.category) for r in group
        )
        errors = [quality.length_error(r.text, seconds, cps[r.lang]) for r in group]
        out["length_error"] = statistics.mean(errors)
        out["length_within_20pct"] = sum(e <= 0.2 for e in errors) / len(errors)
        rejected: Counter[str] = Counter()
        for r in group:
            rejected.update(r.body.get("rejected", {}))
        out["model_sentences_rejected"] = dict(rejected)
        return out

    per_style = {s: figures([r for r in runs if r.style == s], s) for s in STYLES}
    per_language = {}
    for lang in LANGS:
        per_language[lang] = figures([r for r in runs if r.lang == lang], None, lang)
        per_language[lang]["selling_point_coverage"] = statistics.mean(coverages[lang])
    total = figures(runs, None)
    total["selling_point_coverage"] = statistics.mean(c for cs in coverages.values() for c in cs)
    return {"per_style": per_style, "per_language": per_language, **total}


async def quality_runs(rig: Rig, products: list[tuple[str, Product]], seconds: int) -> list[Run]:
    runs: list[Run] = []
    for room, product in products:
        for lang in LANGS:
            for style in STYLES:
                runs.append(await rig.write(room, product, lang, style, seconds))
    return runs


async def with_anchor(rig: Rig, store: Store, llm: LLM, tts: ThreadedTTS) -> AnchorRoom:
    """A virtual-anchor room speaking through the real voice, its scripts from the same model."""
    catalog = catalog_of("fresh_kitchen_snacks")
    info = RoomInfo(room_id="anchor", title="anchor", mode="anchor", language="zh", catalog=catalog)
    rig.rooms["anchor"] = RoomContext("anchor", "zh", catalog, rig.rooms["demo"].stage)
    tasks: set[asyncio.Task[Any]] = set()

    async def on(event: Event) -> None:
        if isinstance(event, ScriptRequest):
            task = asyncio.create_task(rig.writer.write(rig.rooms["anchor"], event))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    await rig.bus.on("anchor", on, ["script.request"])
    settings = AvatarSettings()
    anchor = AnchorRoom(
        info,
        bus=rig.bus,
        store=store,
        tts=tts,
        settings=settings,
        metrics=AvatarMetrics(CollectorRegistry()),
        gate=Gate(load_gate(ROOT / "data/compliance")),
        lines=load_lines(settings.fillers_path, "zh"),
    )
    await anchor.start()
    return anchor


async def speed_runs(rig: Rig, n: int) -> list[Run]:
    """Host requests for 60 s scripts in another room while the anchor room keeps talking."""
    products = catalog_of("demo").products
    return [
        await rig.write("demo", products[(7 * i) % len(products)], "zh", "energetic", 60)
        for i in range(n)
    ]


def timing(runs: list[Run]) -> dict[str, float]:
    first = [r.first_s for r in runs if r.first_s is not None]
    model = [r.first_model_s for r in runs if r.first_model_s is not None]
    whole = [r.whole_s for r in runs]
    return {
        "first_sentence_p50_s": median(first),
        "first_sentence_p95_s": pct(first, 0.95),
        "first_model_sentence_p50_s": median(model),
        "first_model_sentence_p95_s": pct(model, 0.95),
        "whole_script_s": median(whole),
        "whole_script_p95_s": pct(whole, 0.95),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--llm", default="default", help="preset, or none for the template only")
    ap.add_argument("--products", type=int, default=30)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--speed-runs", type=int, default=10)
    args = ap.parse_args()
    warm()
    tts = create_tts(AvatarSettings())
    await tts.warmup()
    samples = {"zh": [], "en": []}  # type: dict[str, list[str]]
    for product in catalog_of("demo").products[:4]:
        samples["zh"] += product.selling_points[:2]
        samples["en"].append(f"Take a look at the {product.title_en}, it is a great pick today.")
    cps = {lang: await speaking_rate(tts, texts) for lang, texts in samples.items()}
    print(f"speaking rate (characters per second): {cps}")
    catalogs = {name: catalog_of(name) for name in CATALOGS}
    per = -(-args.products // len(CATALOGS))
    products = [(n, p) for n, c in catalogs.items() for p in c.products[:per]][: args.products]
    heldout = {
        p.sku for c in catalogs.values() for i, p in enumerate(c.products) if held_out(i, p.sku)
    }
    gate = load_gate(ROOT / "data/compliance")
    embedder = UseEmbedder()
    results: dict[str, Any] = {
        "chars_per_second": cps,
        "products": len(products),
        "seconds": args.seconds,
    }
    configs: list[tuple[str, LLM | None]] = [("template", None)]
    llm: LlamaCppLLM | None = None
    if args.llm != "none":
        settings = LLMSettings(preset=args.llm)
        llm = LlamaCppLLM(settings, model_path(MODEL_DIR, args.llm))
        await llm.start()
        configs.append((f"model ({args.llm})", llm))
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in configs:
            store = SqliteStore(Path(tmp) / f"{len(results)}.db")
            rig = await make_rig(store, model, cps)
            if model is not None:
                for lang in LANGS:
                    for style in STYLES:
                        await rig.writer.prime(lang, style, "bench")
            started = time.monotonic()
            runs = await quality_runs(rig, products, args.seconds)
            figures = summarise(runs, cps, args.seconds, embedder, gate, catalogs)
            kept = [r for r in runs if r.product.sku in heldout]
            figures["heldout_products"] = len({r.product.sku for r in kept})
            if kept:
                figures["heldout"] = summarise(kept, cps, args.seconds, embedder, gate, catalogs)
                figures["heldout"].pop("per_style")
                figures["heldout"].pop("per_language")
            figures["sweep_s"] = round(time.monotonic() - started, 1)
            if model is not None and args.speed_runs:
                anchor = await with_anchor(rig, store, model, tts)
                await asyncio.sleep(5)  # the anchor's first script is under way
                figures.update(timing(await speed_runs(rig, args.speed_runs)))
                await anchor.close(persist=False)
            else:
                figures.update(timing(runs))
            results[name] = figures
            print(
                name, {k: v for k, v in figures.items() if k not in ("per_style", "per_language")}
            )
            print(f"  per language {figures['per_language']}")
    if llm is not None:
        await llm.close()
    await tts.close()
    names = [n for n, _ in configs]
    if len(names) == 2:
        base, model_fig = results[names[0]], results[names[1]]
        for key in (
            "repeated_sentence_rate_within",
            "distinct_2",
            "selling_point_coverage",
            "length_error",
            "whole_script_s",
        ):
            b, m = base[key], model_fig[key]
            print(
                f"{key}: template {b:.3f}  model {m:.3f}  ratio {m / b if b else float('nan'):.2f}"
            )
    write_result("scripts", results | _headline(results, names[-1]))


def _headline(results: dict[str, Any], name: str) -> dict[str, Any]:
    """The issue's figure names, for the configuration the service runs by default."""
    fig = results[name]
    keys = (
        "repeated_sentence_rate_within",
        "repeated_sentence_rate_across",
        "distinct_2",
        "selling_point_coverage",
        "unbacked_numbers",
        "unbacked_entities",
        "compliance_hits",
        "length_error",
        "first_sentence_p95_s",
        "whole_script_s",
    )
    return {k: fig[k] for k in keys} | {"headline_config": name}


if __name__ == "__main__":
    asyncio.run(main())
