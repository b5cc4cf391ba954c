"""Brain benchmark: Q&A accuracy, unknown handling, compliance slips, time to first answer token."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from assistant.answers.answerer import Answerer, Outcome
from assistant.answers.facts import catalog_numbers_text
from assistant.answers.guard import numbers
from assistant.answers.metrics import BrainMetrics
from assistant.answers.retrieval import create_retriever
from assistant.answers.room import RoomContext
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.compliance import load_gate
from assistant.events import Chat, ChatTriaged, User
from assistant.llm import LLM, LLMSettings
from assistant.llm.llamacpp import LlamaCppLLM
from assistant.llm.models import model_path
from assistant.llm.openai import OpenAILLM
from assistant.llm.settings import AnswerSettings
from assistant.store import Store
from bench.common import median, pct, write_result

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = Path("~/.cache/live-commerce").expanduser()


def load_eval() -> tuple[Catalog, list[dict[str, Any]]]:
    data = json.loads((ROOT / "data/eval/qa_zh_en.json").read_text())
    catalog = Catalog.model_validate(json.loads((ROOT / data["catalog"]).read_text()))
    return catalog, data["items"]


async def run_rooms(
    catalog: Catalog, items: list[dict[str, Any]], rooms: int, llm: LLM | None, phrase: bool,
    store: Store,
) -> list[tuple[dict[str, Any], Outcome]]:  # fmt: skip
    """Each room answers its share of the items in turn; rooms run concurrently."""
    answerer = Answerer(
        bus=MemoryBus(), store=store, llm=llm, gate=load_gate(ROOT / "data/compliance"),
        settings=AnswerSettings(embedder="lexical", phrase_with_llm=phrase),
        llm_settings=LLMSettings(first_token_timeout_s=30, timeout_s=60),
        metrics=BrainMetrics(CollectorRegistry()),
    )  # fmt: skip
    results: list[tuple[dict[str, Any], Outcome]] = []

    async def room(r: int) -> None:
        for item in items[r::rooms]:
            ctx = RoomContext(f"room{r}", item["lang"], catalog, create_retriever(None))
            ctx.set_catalog(catalog)
            ctx.on_stage(item["stage_sku"])
            chat = Chat(
                room_id=ctx.room_id, user=User(id="v", name="viewer"), text=item["question"]
            )
            triaged = ChatTriaged(room_id=ctx.room_id, chat=chat, priority=1, intent="question")
            results.append((item, await answerer.answer(ctx, triaged)))

    await asyncio.gather(*(room(r) for r in range(rooms)))
    return results


def _has(expected: str, text: str) -> bool:
    """A fact is stated if its numbers are (LLM wording varies), else its exact words."""
    want = numbers(expected)
    return want <= numbers(text) if want else expected in text


def score(catalog: Catalog, results: list[tuple[dict[str, Any], Outcome]]) -> dict[str, Any]:
    gate = load_gate(ROOT / "data/compliance")
    true_numbers = numbers(catalog_numbers_text(catalog, None))
    facts = [(i, o) for i, o in results if i["kind"] != "unknown"]
    unknowns = [(i, o) for i, o in results if i["kind"] == "unknown"]
    correct = sum(
        1 for i, o in facts
        if all(_has(e, o.text) for e in i["expect"]) and numbers(o.text) <= true_numbers
    )  # fmt: skip
    wrong_numbers = sum(1 for _, o in results if not numbers(o.text) <= true_numbers)
    ttft = [o.first_token_s for i, o in facts if o.first_token_s is not None]
    llm_ttft = [o.first_token_s for _, o in facts if o.source == "llm" and o.first_token_s]
    return {
        "n": len(results),
        "accuracy": correct / max(len(facts), 1),
        "unknown_rate": (
            sum(1 for _, o in unknowns if o.flagged) / len(unknowns) if unknowns else None
        ),
        "false_unknown": sum(1 for _, o in facts if o.flagged) / max(len(facts), 1),
        "unbacked_numbers": wrong_numbers,
        "compliance_slips": sum(len(gate.violations(o.text)) for _, o in results),
        "ttft_p50_ms": median(ttft) * 1000, "ttft_p95_ms": pct(ttft, 0.95) * 1000,
        "llm_phrased_share": len(llm_ttft) / max(len(facts), 1),
        "sources": {s: sum(1 for _, o in results if o.source == s) for s in
                    ("facts", "llm", "template", "unknown")},
    }  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-llm", type=int, default=8, help="fact questions phrased by the LLM")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="default", choices=["default", "fast"])
    ap.add_argument("--chunk-tokens", type=int, default=LLMSettings().chunk_tokens)
    ap.add_argument("--skip-openai", action="store_true")
    args = ap.parse_args()
    catalog, items = load_eval()
    fact_items = [i for i in items if i["kind"] in ("price", "stock", "spec")]
    llm_items = fact_items[:: max(1, len(fact_items) // args.n_llm)][: args.n_llm]
    out: dict[str, Any] = {"items": len(items), "preset": args.preset, "threads": args.threads,
                           "chunk_tokens": args.chunk_tokens}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "b.sqlite3")
        for rooms in (1, 4):
            res = await run_rooms(catalog, items, rooms, None, False, store)
            out[f"facts_{rooms}room"] = score(catalog, res)
        path = model_path(MODEL_DIR, args.preset)
        llm = LlamaCppLLM(LLMSettings(threads=args.threads, chunk_tokens=args.chunk_tokens), path)
        await llm.start()
        await run_rooms(catalog, llm_items[:1], 1, llm, True, store)  # warm-up: prefix cache
        for rooms in (1, 4):
            res = await run_rooms(catalog, llm_items, rooms, llm, True, store)
            out[f"llm_{rooms}room"] = score(catalog, res)
        await llm.close()
        if not args.skip_openai:
            out["openai_1room"] = await openai_run(catalog, llm_items, path, args.threads, store)
        store.close()
    base = out["facts_1room"]["ttft_p95_ms"]
    for key, val in out.items():
        if isinstance(val, dict):
            ratio = val["ttft_p95_ms"] / base if base else float("nan")
            unk = "n/a" if val["unknown_rate"] is None else f"{val['unknown_rate']:.2f}"
            print(f"{key:14s} acc={val['accuracy']:.2f} unknown={unk} "
                  f"slips={val['compliance_slips']} ttft p50={val['ttft_p50_ms']:.0f}ms "
                  f"p95={val['ttft_p95_ms']:.0f}ms (x{ratio:.1f} vs facts_1room)")  # fmt: skip
    write_result("assistant", out)


async def openai_run(
    catalog: Catalog, items: list[dict[str, Any]], path: Path, threads: int, store: Store
) -> dict[str, Any]:
    """The same Q&A through the openai backend against a local llama_cpp.server."""
    port = _free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads),
           "--model_alias", "qwen"]  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile() as log:  # a pipe would fill with the load log and block
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.DEVNULL, stderr=log)
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(600):
                    try:
                        if (await http.get(f"{base}/models", timeout=1)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.2)
            llm = OpenAILLM(
                LLMSettings(backend="openai", base_url=base, model="qwen", timeout_s=60)
            )
            await run_rooms(catalog, items[:1], 1, llm, True, store)  # warm-up
            res = await run_rooms(catalog, items, 1, llm, True, store)
            await llm.close()
            return score(catalog, res)
        finally:
            proc.terminate()
            await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
