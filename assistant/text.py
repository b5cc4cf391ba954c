"""One text toolkit: folding, normalised forms, n-grams, sentences and clauses, number words."""

from __future__ import annotations

import re
import unicodedata

_STRIP = re.compile(r"[\W_]+", re.UNICODE)
# 。！？ always end a sentence; "." only before a space, the end or Chinese (not 39.9).
_SENTENCE = re.compile(r".+?(?:[。！？!?…]+|\.(?=\s|$|[\u3400-\u9fff])|\n|$)", re.S)
_CLAUSE = re.compile(r"[^，,;；。！？!?…\n]+")
_PIECE_END = re.compile(r"(?<=[，、,：:。！？!?；;…\n])")
_DIGITS = "零一二三四五六七八九"
_SMALL = ["", "十", "百", "千"]
_BIG = ["", "万", "亿", "万亿"]
_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# the financial forms (壹佰元) write the same numbers in characters no one can misread
_CN_DIGITS |= dict(zip("壹贰叁肆伍陆柒捌玖", range(1, 10), strict=True))
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000, "拾": 10, "佰": 100, "仟": 1000}
_CN_UNITS["萬"] = 10000
CN_NUMERALS = "".join([*_CN_DIGITS, *_CN_UNITS])


def fold(text: str) -> str:
    """Width- and case-folded text (full-width letters and digits become ASCII)."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalise(text: str) -> str:
    """Folded, without punctuation or spaces: near-identical lines compare equal."""
    return _STRIP.sub("", fold(text))


def ngrams(norm: str, n: int) -> frozenset[str]:
    """Character n-grams of a normalised text (the text itself when shorter than ``n``)."""
    if len(norm) < n:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1))


def bigrams(norm: str) -> frozenset[str]:
    return ngrams(norm, 2)


def sentences(text: str) -> list[str]:
    """Sentences as a voice would pause: 。！？ always, "." only before a space (not 39.9)."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def clauses(text: str) -> list[str]:
    """The comma-separated pieces of a text, punctuation dropped (what a piece says)."""
    return [c.strip() for c in _CLAUSE.findall(text) if c.strip()]


def pieces(text: str) -> list[str]:
    """The text cut after each clause mark, marks and spacing kept, so the pieces join back
    to the text: 中文，语音。 → ['中文，', '语音。'] (streamed and spoken a piece at a time)."""
    return [p for p in _PIECE_END.split(text) if p.strip()]


def cn_to_int(text: str) -> int:
    """Simple Chinese numerals (一百二十, 两千, 九十九) to an int."""
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in "万萬":
            total += (section + digit) * 10000
            section, digit = 0, 0
        else:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
    return total + section + digit


def _group(n: int) -> str:
    """0 < n < 10000 without leading-zero handling."""
    out: list[str] = []
    digits = f"{n:04d}"
    zero = False
    for i, ch in enumerate(digits):
        d = int(ch)
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[d] + _SMALL[3 - i])
    return "".join(out)


def cardinal(n: int) -> str:
    """Chinese reading of a non-negative integer: 105 → 一百零五, 15 → 十五."""
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    parts: list[str] = []
    pending_zero = False
    for idx in range(len(groups) - 1, -1, -1):
        g = groups[idx]
        if g == 0:
            pending_zero = bool(parts)
            continue
        if parts and (pending_zero or g < 1000):
            parts.append("零")
        pending_zero = False
        parts.append(_group(g) + _BIG[idx])
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text


def digits(s: str) -> str:
    """Digit by digit: 2024 → 二零二四."""
    return "".join(_DIGITS[int(c)] for c in s if c.isdigit())
