"""What a script sentence must pass before it is spoken: no repeat and no invented name or claim."""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from assistant.brain.answers.facts import catalog_prices
from assistant.brain.answers.guard import prices
from assistant.catalog import Catalog, Product, ShopInfo

# jieba's tags for a place, and for a person, organisation or other proper name. jieba's
# dictionary tags many everyday words as names (宝宝, 续航 nr; 耐高温 nz), so a person or brand
# counts only when jieba has not seen it often; a place counts unless it is a word of the trade.
_PLACE_TAGS = {"ns", "nsf"}
_NAME_TAGS = {"nr", "nrfg", "nrt", "nt", "nz"}
_RARE = 20
_NOT_PLACES = {"福利", "龙井", "立省", "香港脚"}
# The word before one of these names a brand or a maker.
_MAKER_CUES = {"同款", "出品", "旗下", "联名", "代工", "品牌", "牌子", "家的"}
_SELF_ZH = re.compile(r"我(?:叫|是|们是)([^，。！？,.!?]{1,12})")
_SELF_EN = re.compile(r"\b(?i:my name is|i am|i'm)\s+([A-Z][\w'-]*)")
_CLAIM_ZH = re.compile(
    r"认证|专利|金奖|获奖|荣获|奖项|检测报告|质检报告|代言|明星同款|网红同款|老字号|非遗|驰名商标"
)
_CLAIM_EN = re.compile(
    r"\b(certified|certification|patent(?:ed)?|award(?:-winning)?|endorsed|celebrity|"
    r"FDA|ISO|SGS|CE mark)\b",
    re.I,
)
_LATIN = re.compile(r"[A-Za-z][A-Za-z'-]+")
_CAPITAL = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LETTER = re.compile(r"[A-Za-z]")
# Capitalised words English speech uses without naming anything.
_COMMON_EN = {"i", "i'm", "ok", "okay", "hi", "wow", "cny", "rmb", "yes", "no", "tv", "app"}


def backing_text(product: Product, shop: ShopInfo) -> str:
    """Everything a script may name: the card, its FAQ and the room's shop facts."""
    parts = [product.title, product.title_en or "", product.category, product.description]
    parts += [f"{k} {v}" for k, v in product.attributes.items()]
    parts += product.selling_points + product.tags
    parts += [f"{f.q} {f.a}" for f in product.faq]
    parts += [str(v) for v in shop.model_dump().values()]
    return "\n".join(parts)


def backed_prices(product: Product, shop: ShopInfo) -> set[str]:
    """Money a script may state: the price, list price and saving, and amounts the card or the
    shop states (a spare part's price in an FAQ, a free-shipping threshold)."""
    own = catalog_prices(Catalog(products=[product]), product)
    return own | prices(backing_text(product, shop))


@cache
def _segmenter() -> object:
    import jieba  # type: ignore[import-untyped,unused-ignore]
    import jieba.posseg  # type: ignore[import-untyped,unused-ignore]

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.posseg


@cache
def _sounds(source: str) -> str:
    """The source in toneless pinyin, so an English "Hangzhou" is backed by 杭州."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(source)).casefold()


def warm() -> None:
    """Load jieba's dictionary now (about a second), not on the first sentence."""
    _segmenter()


def _capitalised(sentence: str) -> list[str]:
    """Capitalised words and runs of them, except where a sentence starts."""
    out: list[str] = []
    for m in _CAPITAL.finditer(sentence):
        before = sentence[: m.start()].rstrip()
        if before and before[-1] not in '.!?:"“':
            out.append(m.group(0))
    return out


def _names_zh(sentence: str) -> list[str]:
    import jieba  # type: ignore[import-untyped,unused-ignore]

    posseg: Any = _segmenter()
    freq = jieba.dt.FREQ
    out: list[str] = []
    words = posseg.lcut(sentence)
    for (word, tag), (after, _) in zip(words, [*words[1:], ("", "")], strict=True):
        if len(word) < 2:
            continue
        if (
            (after in _MAKER_CUES and tag.startswith(("n", "eng")))
            or (tag in _PLACE_TAGS and word not in _NOT_PLACES)
            or (tag in _NAME_TAGS and (freq.get(word) or 0) <= _RARE)
        ):
            out.append(word)
    return out


def _backed(word: str, source: str) -> bool:
    if " " in word:  # a run of capitalised words is backed when each word is
        return all(_backed(w, source) for w in word.split())
    w = word.casefold()
    flat = source.casefold().replace(" ", "")
    return w in flat or (w.isascii() and w in _sounds(source))


def unbacked_entities(sentence: str, source: str) -> list[str]:
    """Names, brands, places, roles and certifications the sentence states that ``source``
    does not: a presenter name or "I am X's host" is never backed."""
    found: list[str] = [m.group(0) for m in _SELF_ZH.finditer(sentence)]
    found += [m.group(0) for m in _SELF_EN.finditer(sentence) if m.group(1) != "I"]
    found += [m.group(0) for m in _CLAIM_ZH.finditer(sentence) if not _backed(m.group(0), source)]
    found += [m.group(0) for m in _CLAIM_EN.finditer(sentence) if not _backed(m.group(0), source)]
    if len(_LETTER.findall(sentence)) > len(_CJK.findall(sentence)):
        candidates = _capitalised(sentence)
    else:
        candidates = _names_zh(sentence) + _LATIN.findall(sentence)
    for word in candidates:
        if word.casefold() not in _COMMON_EN and not _backed(word, source):
            found.append(word)
    return list(dict.fromkeys(found))
