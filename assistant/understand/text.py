"""Text folding shared by triage and linking: normalised forms, n-grams, language, pinyin."""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from pypinyin import Style, lazy_pinyin

from assistant.text import fold
from assistant.understand.types import Language

_CJK = re.compile(r"[\u4e00-\u9fff]")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_DESCRIBES = frozenset("带可含送附加买赠")
_DESCRIPTOR_ENDS = frozenset("用款版型式色味")
# Head characters too generic to name a product on their own ("洗碗机" is not the earbuds).
GENERIC_HEADS = frozenset("机器具子品件套装款包盒瓶袋片个只双支条罐箱卷桶组号码色型版式用料")
# A trailing count or pack ("三件套", "5双装", "礼盒装") is not the product's noun.
_MEASURE = re.compile(r"[一二三四五六七八九十两几\d]*[件个只双支条片包盒瓶袋罐箱卷桶组套装]+$")
_NAME_RUN = re.compile(r"[a-z0-9\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z][a-z'-]+|\d+(?:\.\d+)?")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "was",
        "it",
        "its",
        "this",
        "that",
        "one",
        "and",
        "or",
        "for",
        "with",
        "of",
        "in",
        "on",
        "to",
        "how",
        "much",
        "many",
        "what",
        "which",
        "does",
        "do",
        "can",
        "i",
        "you",
        "my",
        "me",
        "there",
        "any",
        "have",
        "has",
        "be",
        "will",
        "would",
        "should",
        "kg",
        "ml",
        "cm",
        "mm",
        "mah",
        "pcs",
        "xl",
        "xxl",
    ]
)


def han_bigrams(text: str) -> set[str]:
    """Bigrams of the Chinese runs, a Latin letter or digit next to a Han character included
    ("t恤"), and never two Latin characters (those are words)."""
    out: set[str] = set()
    for run in _NAME_RUN.findall(fold(text)):
        out.update(g for g in (run[i : i + 2] for i in range(len(run) - 1)) if not g.isascii())
    return out


def han_chars(text: str) -> set[str]:
    return set("".join(_HAN_RUN.findall(text)))


def heads(title: str) -> tuple[set[str], set[str]]:
    """Where a Chinese title puts its nouns: the last character and last two characters of its
    first two pieces (跑步鞋 in "男款轻量缓震跑步鞋", 绿茶 in "西湖龙井 明前特级绿茶"), a
    piece that only describes ("带茶隔", "可充电") excepted."""
    chars: set[str] = set()
    pairs: set[str] = set()
    pieces = [p for p in re.split(r"[\s/|，,、()（）]+", title) if _HAN_RUN.search(p)]
    for n, piece in enumerate(pieces[:2]):
        run = _MEASURE.sub("", _HAN_RUN.findall(piece)[-1])
        if not run or (n and (piece[0] in _DESCRIBES or run[-1] in _DESCRIPTOR_ENDS)):
            continue  # "5双装", "带茶隔", "学习专用": a pack or a description, not a name
        if len(run) >= 2 and run[-1] in GENERIC_HEADS:
            run = run[:-1]  # 刀具 names a knife by 刀
        chars.add(run[-1])
        if len(run) >= 2:
            pairs.add(run[-2:])
    return chars, pairs


def words(text: str) -> list[str]:
    """Latin words (two letters or more) and numbers of three digits or more, folded: a lone
    "5" or "is" names nothing."""
    return [
        w for w in _WORD.findall(fold(text)) if w not in _STOP and not (w.isdigit() and len(w) < 3)
    ]


def language_of(text: str) -> Language:
    """Chinese as soon as one Han character appears; viewers mix, and zh answers read fine."""
    return "zh" if _CJK.search(text) else "en"


@lru_cache(maxsize=65_536)
def _syllable(char: str) -> str:
    return lazy_pinyin(char, style=Style.NORMAL, errors="ignore")[0] if _CJK.match(char) else ""


def sound_bigrams(text: str) -> set[str]:
    """Toneless pinyin bigrams of the Chinese runs: a homophone typo (保问杯) sounds the same."""
    out: set[str] = set()
    for run in _HAN_RUN.findall(text):
        sounds = [_syllable(ch) for ch in run]
        out.update(f"{a} {b}" for a, b in pairwise(sounds) if a and b)
    return out
