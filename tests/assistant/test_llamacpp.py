"""The embedded backend on the Gemma 270M fixture: streaming, fairness across rooms, load errors."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assistant.brain.answers.select import FactChoice, card_facts, select_fact, selection_messages
from assistant.brain.llm import LLMSettings, LLMUnavailable, Message, create_llm
from assistant.brain.llm.fair import FairQueue, QueueFull
from assistant.brain.llm.llamacpp import LlamaCppLLM
from assistant.brain.llm.models import model_path
from assistant.catalog import Catalog
from tests.assistant.conftest import MODEL_DIR

FIXTURE = model_path(MODEL_DIR, "fixture")
needs_fixture = pytest.mark.skipif(
    not FIXTURE.exists(), reason="run: python -m assistant.brain.llm.install fixture"
)
PROMPT = [Message(role="user", content="Write a long story about a cup of tea.")]


def test_fair_queue_round_robin() -> None:
    q: FairQueue[str] = FairQueue(10)
    for job in ("a1", "a2", "a3"):
        q.put("A", job)
    q.put("B", "b1")
    q.put("C", "c1")
    order = [q.get(0)[1] for _ in range(5)]  # type: ignore[index]
    assert order == ["a1", "b1", "c1", "a2", "a3"]
    for i in range(10):
        q.put("A", str(i))
    with pytest.raises(QueueFull):
        q.put("B", "x")
    assert q.others_waiting("B") and not q.others_waiting("A")


async def test_missing_model_names_install_command(tmp_path: Path) -> None:
    llm = create_llm(LLMSettings(preset="fast"), tmp_path)
    assert llm is not None
    with pytest.raises(LLMUnavailable, match=r"python -m assistant\.brain\.llm\.install fast"):
        await llm.structured(PROMPT, FactChoice)
    await llm.close()


@pytest.fixture
async def gemma() -> AsyncIterator[LlamaCppLLM]:
    llm = LlamaCppLLM(LLMSettings(preset="fixture", chunk_tokens=4, context=512), FIXTURE)
    yield llm
    await llm.close()


@needs_fixture
async def test_streams_pieces(gemma: LlamaCppLLM) -> None:
    t0 = time.perf_counter()
    stamps: list[float] = []
    async for _piece in gemma.stream(PROMPT, max_tokens=10, temperature=0.0, room_id="a"):
        stamps.append(time.perf_counter() - t0)
    assert len(stamps) >= 3 and stamps[0] < stamps[-1]


@needs_fixture
async def test_long_job_does_not_starve_other_room(gemma: LlamaCppLLM) -> None:
    await gemma.start()
    done: dict[str, float] = {}
    long_began = asyncio.Event()

    async def run(room: str, tokens: int, began: asyncio.Event) -> None:
        async for _ in gemma.stream(PROMPT, max_tokens=tokens, temperature=0.0, room_id=room):
            began.set()
        done[room] = time.perf_counter()

    async def after_the_long_one_began() -> None:
        await long_began.wait()  # the short job arrives while the long one is generating
        await run("short", 3, asyncio.Event())

    await asyncio.gather(run("long", 40, long_began), after_the_long_one_began())
    assert done["short"] < done["long"]
    assert gemma.preemptions >= 1


@needs_fixture
async def test_close_fails_pending_jobs(gemma: LlamaCppLLM) -> None:
    await gemma.start()

    streaming = asyncio.Event()

    async def consume() -> None:
        async for _ in gemma.stream(PROMPT, max_tokens=400, room_id="x"):
            streaming.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(streaming.wait(), 30)
    await gemma.close()
    with pytest.raises((LLMUnavailable, asyncio.CancelledError)):
        await asyncio.wait_for(task, 5)


@needs_fixture
async def test_loading_leaves_other_threads_output_alone(capfd: pytest.CaptureFixture[str]) -> None:
    """A model loading in a worker thread must not silence the service's logs meanwhile."""
    llm = LlamaCppLLM(LLMSettings(preset="fixture"), FIXTURE)
    loading = asyncio.create_task(llm.start())
    written = 0
    while not loading.done():
        os.write(2, f"service log line {written}\n".encode())
        written += 1
        await asyncio.sleep(0.002)
    await loading
    await llm.close()
    err = capfd.readouterr().err
    assert written > 0
    assert [f"service log line {i}" in err for i in range(written)] == [True] * written
    assert "llama_model_loader" not in err  # llama.cpp's own load chatter stays hidden


@needs_fixture
async def test_fact_selection_is_grammar_constrained(gemma: LlamaCppLLM, catalog: Catalog) -> None:
    """A base model knows nothing of the card, but the grammar still makes it answer with a
    number the code can look up (or none): never free text, never another product's fact."""
    tent = catalog.get("SP-TENT-AUTO-4")
    assert tent is not None
    fact = await select_fact(gemma, tent, "帐篷防雨吗", "zh", "r1")
    assert fact is None or (
        fact.sku == tent.sku
        and fact in [f.model_copy(update={"score": 1.0}) for f, _ in card_facts(tent)]
    )


@needs_fixture
async def test_a_primed_card_is_restored_not_evaluated_again(
    gemma: LlamaCppLLM, catalog: Catalog
) -> None:
    cup, tent = catalog.get("HM-CUP-316-500"), catalog.get("SP-TENT-AUTO-4")
    assert cup is not None and tent is not None
    await gemma.prime(selection_messages(cup, "", "zh"), room_id="r1")
    await gemma.prime(selection_messages(tent, "", "zh"), room_id="r1")  # the model holds the tent
    before = gemma.prefix_hits
    await gemma.structured(selection_messages(cup, "能放洗碗机吗", "zh"), FactChoice, room_id="r1")
    assert gemma.prefix_hits == before + 1
