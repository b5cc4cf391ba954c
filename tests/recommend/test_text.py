"""Recommendation asks, price limits and product text on viewers' real phrasings, zh and en."""

from __future__ import annotations

import pytest

from assistant.catalog import Catalog, product_text
from assistant.understand.text import language_of
from recommend.errors import RecommendBadInput
from recommend.text import parse_ask, parse_price


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("100元以内的保温杯", None, 100.0),
        ("预算300", None, 300.0),
        ("不超过50块", None, 50.0),
        ("50到100元的零食", 50.0, 100.0),
        ("200元以上", 200.0, None),
        ("2k以内的耳机", None, 2000.0),
        ("under $20", None, 20 * 7.2),
        ("anything between $10 and $30", 10 * 7.2, 30 * 7.2),
        ("under 100 yuan", None, 100.0),
        ("over $50", 50 * 7.2, None),
    ],
)
def test_price_limits_parse_to_cny(text: str, lo: float | None, hi: float | None) -> None:
    got = parse_price(text, usd_cny=7.2)
    assert got.min_price == pytest.approx(lo) if lo is not None else got.min_price is None
    assert got.max_price == pytest.approx(hi) if hi is not None else got.max_price is None


def test_around_a_price_gives_a_band() -> None:
    got = parse_price("100元左右")
    assert got.min_price is not None and got.max_price is not None
    assert got.min_price < 100 < got.max_price


@pytest.mark.parametrize("text", ["0元以内的推荐", "under $0", "200到100元的"])
def test_absurd_price_filters_are_bad_input(text: str) -> None:
    with pytest.raises(RecommendBadInput):
        parse_ask(text)


@pytest.mark.parametrize(
    ("text", "kind", "gift"),
    [
        ("推荐一款保温杯", "general", False),
        ("送女朋友什么好", "general", True),
        ("有没有便宜点的", "cheaper", False),
        ("what goes with this", "complement", False),
        ("any gift for my mom?", "general", True),
        ("有类似的吗", "similar", False),
    ],
)
def test_what_a_recommendation_asks_for(text: str, kind: str, gift: bool) -> None:
    ask = parse_ask(text)
    assert (ask.kind, ask.gift) == (kind, gift)


def test_language_and_product_text(catalog: Catalog) -> None:
    assert language_of("推荐一下") == "zh"
    assert language_of("recommend one") == "en"
    product = catalog.products[0]
    text = product_text(product)
    for part in (product.title, product.category, *product.selling_points, *product.tags):
        assert part in text
    assert product.description not in text or not product.description
