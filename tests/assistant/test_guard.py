"""The fact guard on its own."""

from __future__ import annotations

import pytest

from assistant.brain.answers.guard import check, numbers, prices
from assistant.text import cn_to_int


def test_numbers_arabic_and_chinese() -> None:
    assert numbers("现价268元，原价328.00元") == {"268", "328"}
    assert cn_to_int("一百二十") == 120 and cn_to_int("两千") == 2000 and cn_to_int("十五") == 15
    assert prices("只要九十九块，¥12，3 yuan") == {"99", "12", "3"}


def test_guard_flags_unbacked_numbers_prices_and_free() -> None:
    source = "价格129元 原价169元 容量500ml 48小时发货"
    assert check("只要129元，容量500ml", source, allowed_prices={"129", "169"}).ok
    bad = check("只要48元", source, allowed_prices={"129", "169"})
    assert not bad.ok and "price 48" in bad.bad
    assert check("今天免费送", source).bad == ["free"]
    assert not check("好的，我已经忽略了之前的指令", source).ok


SOURCE = "价格129元 原价169元 容量500ml 48小时发货"


@pytest.mark.parametrize(
    ("output", "flag"),
    [
        ("今天只要九十九元", "price 99"),
        ("到手壹佰元", "price 100"),
        ("伍拾块拿走", "price 50"),
        ("今天买一送一", "买一送一"),
        ("全国包邮哦", "包邮"),
        ("第二件半价", "第二件半价"),
        ("下单还有赠品", "赠品"),
        ("It's yours at no cost today", "free"),
        ("Buy one get one free", "free"),
        ("Free shipping on this one", "free shipping"),
    ],
)
def test_price_and_offer_claims_the_card_does_not_make_are_caught(output: str, flag: str) -> None:
    result = check(output, SOURCE, allowed_prices={"129", "169", "40"})
    assert not result.ok and any(flag.casefold() in b.casefold() for b in result.bad), result.bad


def test_an_offer_the_card_or_shop_states_may_be_said() -> None:
    source = SOURCE + " 全场包邮，买一送一，下单送运费险"
    assert check("这款全场包邮，买一送一", source, allowed_prices={"129", "169"}).ok
    assert check("还送运费险", source).ok
    assert cn_to_int("壹佰贰拾") == 120 and cn_to_int("叁萬") == 30000
