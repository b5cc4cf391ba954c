"""Text normalisation: prices, units, percentages, dates, model numbers; runs and sentences."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.text import cardinal
from avatar.normalize import normalize_en, normalize_zh, price
from avatar.text import split_clauses, split_runs, split_sentences


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("¥59.9", "五十九块九"),
        ("到手价59.9元", "到手价五十九块九"),
        ("￥199", "一百九十九块"),
        ("¥59.95", "五十九块九毛五"),
        ("¥59.05", "五十九块零五分"),
        ("¥0.5", "五毛"),
        ("500ml", "五百毫升"),
        ("1.5L装", "一点五升装"),
        ("净含量250g", "净含量二百五十克"),
        ("5000mAh", "五千毫安时"),
        ("满200减20%", "满二百减百分之二十"),
        ("好评率99.5%", "好评率百分之九十九点五"),
        ("2024年11月11日开抢", "二零二四年十一月十一日开抢"),
        ("2024-6-18", "二零二四年六月十八日"),
        ("6月18号", "六月十八号"),
        ("3-5天发货", "三到五天发货"),
        ("拍2件", "拍两件"),
        ("59.9元/瓶", "五十九块九一瓶"),
        ("客服电话13800138000", "客服电话一三八零零一三八零零零"),
        ("第105位", "第一百零五位"),
        ("色号#01", "色号零一号"),
        ("#12 枫叶棕", "十二号 枫叶棕"),
        ("正红 / 豆沙", "正红、豆沙"),
    ],
)
def test_normalize_zh_cases(text: str, spoken: str) -> None:
    assert normalize_zh(text) == spoken


@pytest.mark.parametrize("model", ["iPhone 15 Pro", "X200", "SK-II", "5G"])
def test_model_numbers_stay_latin_for_the_english_voice(model: str) -> None:
    out = normalize_zh(f"这款{model}很好用")
    assert model in out
    assert ("en", model) in split_runs(out)


@pytest.mark.parametrize(
    ("n", "zh"),
    [
        (0, "零"),
        (10, "十"),
        (15, "十五"),
        (105, "一百零五"),
        (1005, "一千零五"),
        (10000, "一万"),
        (10010, "一万零一十"),
        (120000, "十二万"),
        (100000000, "一亿"),
    ],
)
def test_cardinal(n: int, zh: str) -> None:
    assert cardinal(n) == zh


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_cardinal_uses_only_chinese_numerals(n: int) -> None:
    assert re.fullmatch("[零一二三四五六七八九十百千万亿]+", cardinal(n))


@given(st.decimals(min_value=0, max_value=99999, places=2, allow_nan=False))
def test_price_never_leaves_digits(value: object) -> None:
    assert not re.search(r"\d", price(f"{value:.2f}"))


def test_normalize_en() -> None:
    assert normalize_en("Only ¥59.9, 20% off") == "Only 59.9 yuan, 20 percent off"


def test_split_runs_routes_latin_to_english() -> None:
    runs = split_runs("这款iPhone 15 Pro真的很好，还有SK-II神仙水。")
    assert runs == [
        ("zh", "这款"),
        ("en", "iPhone 15 Pro"),
        ("zh", "真的很好，还有"),
        ("en", "SK-II"),
        ("zh", "神仙水。"),
    ]
    assert split_runs("Hello world, 59 yuan.") == [("en", "Hello world, 59 yuan.")]
    assert split_runs("。！") == []


def test_sentences_and_clauses() -> None:
    text = "大家好！今天给大家带来一款好物。Hello world. This is great! 好"
    assert split_sentences(text) == [
        "大家好！",
        "今天给大家带来一款好物。",
        "Hello world.",
        "This is great!好",
    ]
    long = "，".join(["这是一个很长的句子"] * 20) + "。"
    assert all(len(s) <= 80 for s in split_sentences(long))
    assert "".join(split_sentences(long)) == long
    assert split_clauses("中文：语音，合成！系统") == ["中文：", "语音，", "合成！", "系统"]
