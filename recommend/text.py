"""What a recommendation request asks for: the kind of ask, a price range, a gift."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from assistant.understand.text import language_of
from recommend.errors import RecommendBadInput

AskKind = Literal["general", "cheaper", "complement", "similar"]

_NUM = r"(\d+(?:\.\d+)?)(\s*[kKwW万千])?"
_ZH_UNIT = r"\s*(?:元|块钱?|rmb|RMB|¥|￥)?"
_MAX_ZH = [
    rf"(?:不超过|不到|低于|少于|小于|最多|预算)\s*[¥￥]?\s*{_NUM}{_ZH_UNIT}",
    rf"[¥￥]?\s*{_NUM}{_ZH_UNIT}\s*(?:以内|以下|之内|内的|内)",
]
_MIN_ZH = [
    rf"[¥￥]?\s*{_NUM}{_ZH_UNIT}\s*(?:以上|起)",
    rf"(?<![不没])(?:高于|超过|大于)\s*[¥￥]?\s*{_NUM}",
]
_RANGE = (
    rf"[¥￥$]?\s*{_NUM}\s*(?:元|块|dollars?|usd|yuan)?\s*(?:到|至|-|~|to|and)\s*[¥￥$]?\s*{_NUM}"
)
_USD = r"(?:\$|usd|dollars?|bucks?)"
_MAX_EN = [
    rf"(?:under|below|less than|cheaper than|at most|up to|within|max(?:imum)?|budget(?: of| is)?)"
    rf"\s*(\$)?\s*{_NUM}\s*({_USD}|yuan|rmb|cny|元)?",
    rf"(\$)?\s*{_NUM}\s*({_USD}|yuan|rmb|cny)?\s*or (?:less|under|below)",
]
_MIN_EN = [rf"(?:over|above|more than|at least)\s*(\$)?\s*{_NUM}\s*({_USD}|yuan|rmb|cny)?"]

_ASK_WORDS: dict[AskKind, tuple[str, ...]] = {
    "cheaper": (
        "便宜点",
        "便宜一点",
        "便宜些",
        "更便宜",
        "实惠点",
        "性价比",
        "cheaper",
        "less expensive",
    ),
    "complement": (
        "搭配",
        "配什么",
        "配套",
        "一起买",
        "goes with",
        "go with",
        "pair with",
        "match with",
        "to go with",
        "complement",
    ),
    "similar": ("同款", "类似", "差不多的", "similar", "something like", "alternative"),
    "general": (
        "推荐",
        "有没有",
        "有什么",
        "还有什么",
        "哪款",
        "哪个好",
        "买什么",
        "送什么",
        "想买",
        "适合",
        "求",
        "recommend",
        "suggest",
        "any ",
        "looking for",
        "what should i",
        "which one",
        "do you have",
        "anything",
    ),
}
_GIFT_WORDS = (
    "送给",
    "送女",
    "送男",
    "送妈",
    "送爸",
    "送老",
    "送朋友",
    "送人",
    "送礼",
    "送长辈",
    "礼物",
    "礼品",
    "gift",
    "present for",
    "for my",
)

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "food": ("吃", "零食", "食品", "茶", "food", "snack", "tea"),
    "beauty": ("美妆", "化妆", "护肤", "口红", "beauty", "makeup", "skincare"),
    "home": ("家居", "家用", "杯", "床", "home", "kitchen"),
    "apparel": ("衣服", "穿", "服装", "apparel", "clothes", "wear"),
    "electronics": ("数码", "电子", "家电", "electronics", "gadget"),
    "baby": ("母婴", "宝宝", "婴儿", "baby"),
    "sports": ("运动", "户外", "健身", "sports", "outdoor", "fitness"),
}


class PriceFilter(BaseModel):
    """A price range in CNY parsed from the viewer's words; None means unbounded."""

    min_price: float | None = None
    max_price: float | None = None
    text: str = ""

    def accepts(self, price: float) -> bool:
        lo = self.min_price if self.min_price is not None else float("-inf")
        hi = self.max_price if self.max_price is not None else float("inf")
        return lo <= price <= hi

    @property
    def active(self) -> bool:
        return self.min_price is not None or self.max_price is not None


class Ask(BaseModel):
    kind: AskKind
    gift: bool = False
    price: PriceFilter = PriceFilter()
    language: Literal["zh", "en"] = "zh"


_FILLER_RE = re.compile(
    r"推荐(?:一下|一款|一个|个|下)?|一下|一款|一个|有没有|有什么|还有什么|什么好|好物|东西|"
    r"吗|呢|吧|啊|呀|的|"
    r"\b(?:recommend|suggest|something|anything|any|do you have|looking for|please|some|an?|the)\b|"
    r"[\s,，。.!！?？~]+"
)


def query_content(text: str) -> str:
    """What is left of a chat line once intent words, price limits and particles are gone."""
    low = text.lower()
    for pattern in (_RANGE, *_MAX_ZH, *_MIN_ZH, *_MAX_EN, *_MIN_EN):
        low = re.sub(pattern, " ", low)
    for words in _ASK_WORDS.values():
        for word in words:
            low = low.replace(word, " ")
    return _FILLER_RE.sub("", re.sub(r"\b(?:this|that|it|what)\b", " ", low))


def _amount(number: str, suffix: str | None) -> float:
    value = float(number)
    unit = (suffix or "").strip().lower()
    if unit in ("k", "千"):
        value *= 1000
    elif unit in ("w", "万"):
        value *= 10_000
    return value


def _is_usd(*marks: str | None) -> bool:
    joined = " ".join(m for m in marks if m).lower()
    return bool(re.search(_USD, joined))


def parse_price(text: str, usd_cny: float = 7.2) -> PriceFilter:
    """Parse "100元以内", "50到100元", "under $20", "200元以上"; amounts come back in CNY.

    Raises RecommendBadInput for limits no product can meet (zero or negative, min above max).
    """
    low = text.lower()
    lo: float | None = None
    hi: float | None = None
    usd = "$" in low or bool(re.search(r"\b(usd|dollars?|bucks?)\b", low))
    rate = usd_cny if usd else 1.0
    if m := re.search(_RANGE, low):
        lo, hi = _amount(m.group(1), m.group(2)), _amount(m.group(3), m.group(4))
    else:
        for pat in _MAX_ZH:
            if m := re.search(pat, low):
                hi = _amount(m.group(1), m.group(2))
                break
        for pat in _MIN_ZH:
            if lo is None and (m := re.search(pat, low)):
                lo = _amount(m.group(1), m.group(2))
        for pat in _MAX_EN:
            if hi is None and (m := re.search(pat, low)):
                g = m.groups()
                hi = _amount(g[1], g[2])
                rate = usd_cny if _is_usd(g[0], g[3]) or usd else 1.0
        for pat in _MIN_EN:
            if lo is None and (m := re.search(pat, low)):
                g = m.groups()
                lo = _amount(g[1], g[2])
                rate = usd_cny if _is_usd(g[0], g[3]) or usd else 1.0
        if lo is None and hi is None and (m := re.search(rf"{_NUM}\s*(?:元|块)?\s*左右", low)):
            mid = _amount(m.group(1), m.group(2))
            lo, hi = mid * 0.8, mid * 1.2
    if lo is None and hi is None:
        return PriceFilter()
    lo = lo * rate if lo is not None else None
    hi = hi * rate if hi is not None else None
    if hi is not None and hi <= 0:
        raise RecommendBadInput(f"price limit {hi:g} is not positive")
    if lo is not None and hi is not None and lo > hi:
        raise RecommendBadInput(f"price range {lo:g}–{hi:g} is empty")
    return PriceFilter(min_price=lo, max_price=hi, text=text)


def parse_ask(text: str, usd_cny: float = 7.2) -> Ask:
    """What a recommendation request asks for (the understanding step said it is one).

    Raises RecommendBadInput when the line asks for a price range that cannot exist.
    """
    low = text.lower()
    kind = next(
        (k for k, words in _ASK_WORDS.items() if k != "general" and any(w in low for w in words)),
        "general",
    )
    return Ask(
        kind=kind,
        gift=any(w in low for w in _GIFT_WORDS),
        price=parse_price(text, usd_cny),
        language=language_of(text),
    )
