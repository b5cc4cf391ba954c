"""The real embedded model (Qwen2.5-Coder 1.5B): grounded selection, answers and a script."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from assistant.brain.answers.facts import catalog_numbers_text
from assistant.brain.answers.guard import numbers
from assistant.brain.answers.select import card_facts, pick_product, select_fact
from assistant.brain.llm import LLMSettings
from assistant.brain.llm.llamacpp import LlamaCppLLM
from assistant.brain.llm.models import model_path
from assistant.brain.llm.settings import AnswerSettings
from assistant.catalog import Catalog
from assistant.compliance import ComplianceGate
from assistant.events import ScriptRequest
from tests.assistant.attacks import ATTACKS
from tests.assistant.conftest import MODEL_DIR, ROOT, HarnessFactory

QWEN = model_path(MODEL_DIR, "default")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not QWEN.exists(), reason="run: python -m assistant.brain.llm.install default"
    ),
]
SKU = "HM-CUP-316-500"
SETTINGS = LLMSettings(first_token_timeout_s=20, timeout_s=60)


@pytest.fixture(scope="module")
def qwen() -> Iterator[LlamaCppLLM]:
    llm = LlamaCppLLM(SETTINGS, QWEN)
    yield llm
    asyncio.run(llm.close())


async def test_the_models_pick_is_a_card_fact_stated_only_when_plausible(
    harness: HarnessFactory, catalog: Catalog, qwen: LlamaCppLLM
) -> None:
    """The grammar lets the model name a card line or none, never write a fact; and a pick the
    linking step did not find plausible is not stated (this model picks the card's first lines
    whatever is asked, which the benchmark measures)."""
    bottle = catalog.get("BB-BOTTLE-PPSU-240")
    assert bottle is not None
    fact = await select_fact(qwen, bottle, "奶瓶能用开水烫吗", "zh", "r1")
    card = [f for f, _ in card_facts(bottle)]
    assert fact is None or fact.model_copy(update={"score": 0.0}) in card
    h = await harness(
        qwen, llm_settings=SETTINGS, answers=AnswerSettings(select_with_llm=True)
    )  # fmt: skip
    await h.open("r1", catalog)
    await h.until(h.brain.llm_ready, limit=120)
    chat = await h.ask("r1", "316保温杯装热水会不会烫手")
    await h.settled(chat.id, limit=120)
    (answer,) = h.of("answer", chat_id=chat.id)
    cup = catalog.get(SKU)
    assert cup is not None
    said = [str(v) for k, v in cup.attributes.items() if str(v) in answer.text]
    assert answer.source == "unknown" or said == [str(cup.attributes["材质"])], answer.text


async def test_model_finds_a_chinese_only_product_by_its_english_name(qwen: LlamaCppLLM) -> None:
    path = ROOT / "data/eval/catalogs/fresh_kitchen_snacks.json"
    fresh = Catalog.model_validate_json(path.read_text())
    kettle = await pick_product(qwen, fresh, "how much is the kettle", "en", "r1")
    assert kettle is not None and "水壶" in kettle.title


async def test_answer_and_attacks_stay_true_to_catalog(
    harness: HarnessFactory, catalog: Catalog, qwen: LlamaCppLLM
) -> None:
    h = await harness(
        qwen, llm_settings=SETTINGS,
        answers=AnswerSettings(phrase_with_llm=True),
    )  # fmt: skip
    await h.open("r1", catalog)
    await h.pin("r1", SKU)
    await h.until(h.brain.llm_ready, limit=120)
    questions = ["这个保温杯多少钱？", *ATTACKS[:3]]
    chats = [await h.ask("r1", q) for q in questions]
    for chat in chats:
        await h.settled(chat.id, limit=120)
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
