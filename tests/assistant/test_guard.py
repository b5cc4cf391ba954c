"""The fact guard on its own."""

from __future__ import annotations

from assistant.answers.guard import check, cn_to_int, numbers, prices


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
