"""Questions as viewers type them, through the real understanding step (USE embedder) and the
answerer: each test is one pattern a new user hit before this step existed (issue 11)."""

from __future__ import annotations

import pytest

from assistant.catalog import Catalog
from assistant.events import Answer, Subtitle
from tests.assistant.conftest import Harness, HarnessFactory

CUP = "HM-CUP-316-500"


@pytest.fixture
async def h(harness: HarnessFactory, catalog: Catalog) -> Harness:
    made = await harness(embedder="use")
    await made.open("r1", catalog)
    return made


async def answer_to(h: Harness, text: str, *, user: str = "u1") -> Answer:
    chat = await h.ask("r1", text, user=user)
    await h.settled(chat.id)
    (answer,) = h.of("answer", chat_id=chat.id)
    assert isinstance(answer, Answer)
    return answer


@pytest.mark.parametrize(
    ("question", "sku"),
    [
        ("耳机多少钱", "EL-EAR-TWS-ANC"),
        ("面膜多少钱", "BT-MASK-HYD-10"),
        ("帐篷多少钱", "SP-TENT-AUTO-4"),
        ("口红多少钱", "BT-LIP-VEL-01"),
        ("奶瓶多少钱", "BB-BOTTLE-PPSU-240"),
    ],
)
async def test_a_product_named_by_its_everyday_name_beats_the_stage(
    h: Harness, catalog: Catalog, question: str, sku: str
) -> None:
    """Before: one shared title bigram was not enough, so the thermos on stage was priced."""
    await h.pin("r1", CUP)
    named, cup = catalog.get(sku), catalog.get(CUP)
    assert named is not None and cup is not None
    answer = await answer_to(h, question)
    assert answer.sku == sku and f"{named.price:g}" in answer.text
    assert cup.title.split()[0] not in answer.text


@pytest.mark.parametrize(
    ("question", "sku", "facts"),
    [
        ("帐篷防雨吗", "SP-TENT-AUTO-4", ["PU2000mm", "下雨"]),
        ("奶瓶能用开水烫吗", "BB-BOTTLE-PPSU-240", ["180℃"]),
        ("扫地机能扫多久", "EL-ROBOT-VAC-S", ["180分钟"]),
    ],
)
async def test_a_fact_worded_differently_from_its_key_is_found(
    h: Harness, catalog: Catalog, question: str, sku: str, facts: list[str]
) -> None:
    """Before: "I don't know" whenever the question did not spell the attribute key."""
    answer = await answer_to(h, question)
    product = catalog.get(sku)
    assert product is not None and answer.sku == sku and not answer.flagged
    assert any(f in answer.text for f in facts), answer.text


async def test_faq_comes_from_the_product_asked_about(h: Harness, catalog: Catalog) -> None:
    """Before: FAQ retrieval searched every product, so one product answered for another."""
    await h.pin("r1", CUP)
    tea = catalog.get("FD-TEA-LJ-250")
    assert tea is not None
    answer = await answer_to(h, "龙井开封了怎么存")
    storing = next(f.a for f in tea.faq if "保存" in f.q)
    assert answer.sku == tea.sku and storing in answer.text


async def test_how_to_buy_is_answered_from_the_shop_and_the_link(
    h: Harness, catalog: Catalog
) -> None:
    """Before: no answer branch at all; it fell through to "I don't know"."""
    shop = catalog.shop
    general = await answer_to(h, "怎么下单呀")
    assert shop.how_to_buy in general.text and general.source == "shop"
    english = await answer_to(h, "how do I buy", user="u2")
    assert shop.how_to_buy in english.text
    cup = catalog.get(CUP)
    assert cup is not None and cup.link is not None
    linked = await answer_to(h, "316保温杯几号链接", user="u3")
    assert f"{cup.link}号链接" in linked.text and linked.sku == CUP


@pytest.mark.parametrize("question", ["带茶隔的保温杯能进微波炉吗", "龙井有没有农残检测报告"])
async def test_a_fact_the_catalog_lacks_is_not_answered_with_another(
    h: Harness, catalog: Catalog, question: str
) -> None:
    """Before: an unrelated attribute of the product was stated instead of "I don't know"."""
    answer = await answer_to(h, question)
    assert answer.flagged and answer.source == "unknown"
    product = catalog.get(answer.sku or "")
    values = [str(v) for v in product.attributes.values()] if product else []
    assert not any(v in answer.text for v in values)


async def test_this_one_in_an_anchor_room_is_what_the_anchor_sells(
    h: Harness, catalog: Catalog
) -> None:
    """Before: the brain ignored what the anchor was selling, so "这个多少钱" had no product."""
    tent = catalog.get("SP-TENT-AUTO-4")
    assert tent is not None
    await h.bus.publish(Subtitle(room_id="r1", utterance_id="s.0.1", text="…", sku=tent.sku))
    await h.until(lambda: h.stage.sku("r1") == tent.sku)
    answer = await answer_to(h, "这个多少钱")
    assert answer.sku == tent.sku and f"{tent.price:g}" in answer.text


async def test_a_follow_up_is_about_the_product_this_viewer_asked_about(
    h: Harness, catalog: Catalog
) -> None:
    await h.pin("r1", "EL-AF-5L")
    first = await answer_to(h, "316保温杯多少钱", user="v7")
    assert first.sku == CUP
    follow = await answer_to(h, "那黑色的有吗", user="v7")
    assert follow.sku == CUP and "曜石黑" in follow.text
    other = await answer_to(h, "那黑色的有吗", user="v8")  # another viewer: the stage product
    assert other.sku != CUP


async def test_a_generic_noun_with_nothing_on_stage_is_asked_back(h: Harness) -> None:
    answer = await answer_to(h, "保温杯多少钱")
    assert answer.source == "clarify" and answer.sku is None
    assert "316" in answer.text and "304" in answer.text and "元" not in answer.text


async def test_a_comparison_states_each_products_own_fact(h: Harness, catalog: Catalog) -> None:
    answer = await answer_to(h, "316和304保温杯哪个保温久")
    for sku in (CUP, "HM-CUP-304-350"):
        product = catalog.get(sku)
        assert product is not None and str(product.attributes["保温时长"]) in answer.text
