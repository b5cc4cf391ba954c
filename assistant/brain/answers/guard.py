"""The fact guard: every number, price and "free" claim in an output must come from the catalog."""

from __future__ import annotations

import re

from pydantic import BaseModel

from assistant.text import CN_NUMERALS, cn_to_int

_NUM = re.compile(r"\d+(?:[.,]\d+)*")
_CN_NUM = re.compile(rf"[{CN_NUMERALS}]+(?=\s*(?:元|块|圆|毛|折|毫升|克|斤|%))")
_FREE = re.compile(
    r"免费|白送|不要钱|0元购|零元购|\bfree\b|for nothing|no charge|at no cost|on the house"
    r"|complimentary",
    re.I,
)
# Offers a model may not make up: each must be worded in the card or the shop text.
_OFFER = re.compile(
    r"买[一二两三\d]送[一二两三\d]|第二件半价|半价|包邮|运费险|赠品|送赠品|满\d+减\d+"
    r"|buy one,? get one|\bbogo\b|half[- ]price|free shipping",
    re.I,
)
_PERCENT_OFF = re.compile(r"\d+\s*折|\d+\s*%\s*off", re.I)
_PRICE = re.compile(
    r"(?:[¥￥$]|rmb|cny)\s*(\d+(?:[.,]\d+)*)|(\d+(?:[.,]\d+)*)\s*(?:元|块|yuan|cny|rmb|dollars?)",
    re.I,
)
_CN_PRICE = re.compile(rf"([{CN_NUMERALS}]+)\s*(?:元|块|圆)")
_ECHO = re.compile(
    r"忽略.{0,8}(指令|规则|设定|要求)"
    r"|(ignore|ignoring|ignored) (all |the |my )?(previous|prior|above)"
    r"|system prompt|系统提示|\bDAN\b|developer mode|开发者模式|新的?规则|as instructed",
    re.I,
)


class GuardResult(BaseModel):
    ok: bool
    bad: list[str]


def _norm(token: str) -> str:
    token = token.replace(",", "")
    if "." in token:
        token = token.rstrip("0").rstrip(".")
    return token or "0"


def numbers(text: str) -> set[str]:
    """Every number in a text, normalised (Arabic and simple Chinese numerals before a unit)."""
    out = {_norm(m.group()) for m in _NUM.finditer(text)}
    out |= {str(cn_to_int(m.group())) for m in _CN_NUM.finditer(text)}
    return out


def prices(text: str) -> set[str]:
    """Amounts stated as money (¥12, 12元, 12 yuan, 十二块)."""
    out = {_norm(a or b) for a, b in _PRICE.findall(text)}
    return out | {str(cn_to_int(m)) for m in _CN_PRICE.findall(text)}


def check(
    output: str,
    source: str,
    *,
    allowed_extra: set[str] | None = None,
    allowed_prices: set[str] | None = None,
) -> GuardResult:
    """Compare an output with the catalog text it may draw from; list what is not backed.

    Every number must occur in ``source``; every money amount must be one of ``allowed_prices``
    (the products' prices, list prices and savings) when given; echoes of injected instructions
    and "free" claims are rejected.
    """
    allowed = numbers(source) | (allowed_extra or set())
    bad = sorted(n for n in numbers(output) if n not in allowed)
    if allowed_prices is not None:
        bad += sorted(f"price {p}" for p in prices(output) if p not in allowed_prices)
    if _ECHO.search(output):
        bad.append("instruction echo")
    if _FREE.search(output) and not _FREE.search(source):
        bad.append("free")
    said = source.casefold()
    bad += [m.group() for m in _OFFER.finditer(output) if m.group().casefold() not in said]
    for m in _PERCENT_OFF.finditer(output):
        if m.group() not in source:
            bad.append(m.group())
    return GuardResult(ok=not bad, bad=bad)
