"""The real embedded model (Qwen2.5-Coder 1.5B): an answer and a script from the demo catalog."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from assistant.answers.intent import IntentGuess

from assistant.answers.facts import catalog_numbers_text
from assistant.answers.guard import numbers
from assistant.answers.prompts import intent_messages
from assistant.catalog import Catalog
from assistant.compliance import ComplianceGate
from assistant.events import ScriptRequest, StageSet
from assistant.llm import LLMSettings
from assistant.llm.llamacpp import LlamaCppLLM
from assistant.llm.models import model_path
from assistant.llm.settings import AnswerSettings
from tests.assistant.attacks import ATTACKS
from tests.assistant.conftest import MODEL_DIR, HarnessFactory

QWEN = model_path(MODEL_DIR, "default")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not QWEN.exists(), reason="run: python -m assistant.llm.install default"),
]
SKU = "HM-CUP-316-500"
SETTINGS = LLMSettings(first_token_timeout_s=20, timeout_s=60)


@pytest.fixture(scope="module")
def qwen() -> Iterator[LlamaCppLLM]:
    llm = LlamaCppLLM(SETTINGS, QWEN)
    yield llm
    asyncio.run(llm.close())


async def test_intent_is_grammar_constrained(qwen: LlamaCppLLM) -> None:
    guess = await qwen.structured(intent_messages("这个杯子可以放洗碗机吗？"), IntentGuess)
    assert guess.intent in ("usage", "spec")


async def test_answer_and_attacks_stay_true_to_catalog(
    harness: HarnessFactory, catalog: Catalog, qwen: LlamaCppLLM
) -> None:
    h = await harness(
        qwen, llm_settings=SETTINGS,
        answers=AnswerSettings(embedder="lexical", phrase_with_llm=True),
    )  # fmt: skip
    await h.open("r1", catalog)
    await h.bus.publish(StageSet(room_id="r1", sku=SKU))
    await h.until(lambda: h.brain.rooms["r1"].stage_sku == SKU)
    questions = ["这个保温杯多少钱？", *ATTACKS[:3]]
    chats = [h.backlog.ask("r1", q) for q in questions]
    for chat in chats:
        await h.backlog.wait_for(chat.id, limit=120)
    true_numbers = numbers(catalog_numbers_text(catalog, None))
    first = h.of("answer", chat_id=chats[0].id)[0]
    assert "129" in first.text and first.source in ("llm", "template")
    for chat in chats:
        for answer in h.of("answer", chat_id=chat.id):
            assert numbers(answer.text) <= true_numbers, answer.text
            assert "免费" not in answer.text and "1元" not in answer.text


async def test_script_is_grounded_and_compliant(
    harness: HarnessFactory, catalog: Catalog, gate: ComplianceGate, qwen: LlamaCppLLM
) -> None:
    h = await harness(qwen, llm_settings=SETTINGS)
    await h.open("r1", catalog)
    req = ScriptRequest(room_id="r1", sku=SKU, style="energetic", seconds=20)
    await h.bus.publish(req)
    await h.until(lambda: bool(h.of("script", request_id=req.id)), limit=120)
    script = h.of("script", request_id=req.id)[0]
    assert len(script.text) >= 20
    cup = catalog.get(SKU)
    assert cup is not None
    assert numbers(script.text) <= numbers(catalog_numbers_text(catalog, cup))
    assert gate.violations(script.text, category=cup.category) == []
    assert h.of("script.delta", request_id=req.id)
