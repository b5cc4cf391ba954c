"""Keyword rules that score a chat line's buying intent and spot spam, for zh and en chat."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Weighted by how close a question is to a purchase: a buyer asking how to pay outranks a
# greeting, because an unanswered buying question is lost revenue.
_INTENTS: list[tuple[str, float, tuple[str, ...]]] = [
    (
        "buy",
        1.0,
        (
            "怎么买",
            "怎么拍",
            "下单",
            "链接",
            "几号链接",
            "拍哪个",
            "how do i buy",
            "how to buy",
            "order",
            "checkout",
            "link",
        ),
    ),
    (
        "price",
        0.9,
        (
            "多少钱",
            "价格",
            "几块",
            "便宜",
            "优惠",
            "券",
            "折扣",
            "贵",
            "price",
            "how much",
            "discount",
            "coupon",
            "cost",
            "cheap",
        ),
    ),
    (
        "stock",
        0.9,
        (
            "有货",
            "库存",
            "还有吗",
            "没货",
            "补货",
            "现货",
            "卖完",
            "stock",
            "sold out",
            "available",
            "in stock",
        ),
    ),
    (
        "spec",
        0.8,
        (
            "尺码",
            "尺寸",
            "大小",
            "多大",
            "容量",
            "材质",
            "多重",
            "重量",
            "颜色",
            "规格",
            "成分",
            "保质期",
            "size",
            "material",
            "weight",
            "colour",
            "color",
            "capacity",
            "ingredients",
        ),
    ),
    (
        "shipping",
        0.8,
        (
            "发货",
            "快递",
            "包邮",
            "退货",
            "退换",
            "运费",
            "几天到",
            "售后",
            "shipping",
            "delivery",
            "return",
            "refund",
            "ship",
        ),
    ),
    (
        "recommend",
        0.7,
        (
            "推荐",
            "送人",
            "送妈妈",
            "送女朋友",
            "送男朋友",
            "适合",
            "哪个好",
            "recommend",
            "gift",
            "suggest",
            "which one",
            "goes with",
        ),
    ),
    ("usage", 0.6, ("怎么用", "用法", "怎么吃", "怎么洗", "能用", "how to use", "how do i use")),
]
_GREETINGS = (
    "你好",
    "主播好",
    "哈哈",
    "来了",
    "晚上好",
    "早上好",
    "666",
    "hello",
    "hi ",
    "hey",
    "lol",
    "么么哒",
    "支持",
)
_SPAM = re.compile(
    r"(https?://|www\.|\.com\b|加微|加v|vx:?\w|微信号|qq:?\d|\d{7,}|代购|兼职|刷单|"
    r"日赚|私聊我|招代理|赚钱)",
    re.IGNORECASE,
)
_REPEAT = re.compile(r"(.)\1{7,}")
_STRIP = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Verdict:
    intent: str
    priority: float
    spam: bool


def normalise(text: str) -> str:
    """Case-fold, width-fold and drop punctuation, so near-identical questions compare equal."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _STRIP.sub("", folded)


def bigrams(norm: str) -> frozenset[str]:
    """Character bigrams of a normalised line (the line itself when it is one character)."""
    return frozenset(norm[i : i + 2] for i in range(max(1, len(norm) - 1)))


def classify(text: str) -> Verdict:
    lowered = unicodedata.normalize("NFKC", text).casefold()
    if _SPAM.search(lowered) or _REPEAT.search(lowered) or not normalise(text):
        return Verdict("spam", 0.0, True)
    for intent, weight, words in _INTENTS:
        if any(word in lowered for word in words):
            return Verdict(intent, weight, False)
    if any(word in f"{lowered} " for word in _GREETINGS):
        return Verdict("greeting", 0.1, False)
    if "?" in lowered or "吗" in lowered:
        return Verdict("question", 0.5, False)
    return Verdict("chat", 0.3, False)
