"""Viewer-controlled text fit to show and say: cleaned, and names that sell or pose replaced."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Literal

from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

# Zero-width and other format characters hide a word from matching and show nothing on screen.
_INVISIBLE = {"Cf", "Cc", "Co", "Cs"}
_SEPARATORS = re.compile(r"[\W_]+")
_STAFF_WORDS = re.compile(r"\b(bot|host|admin|staff|official|moderator|service)\b")
_STAFF_ZH = re.compile(r"官方|客服|主播|助手|小助理|机器人|管理员|店长|工作人员")
# A name that carries an offer, a price, a contact or a link would have the bot say it for them.
_SELLING = re.compile(
    r"\d|[元块¥￥$%％折]|秒杀|免费|包邮|优惠|特价|限时|红包|抽奖|下单|链接|加微|微信|福利|清仓|"
    r"http|www|\.com|\.cn|\b(free|sale|off|deal|discount|promo|coupon|cheap)\b",
    re.IGNORECASE,
)
MAX_NAME = 16
_TAGS_ZH = re.findall("..", "小鹿白云青竹明月清风小溪海棠星河山茶松果柚子蓝莓杏仁麦穗芒果银杏")
_TAGS_EN = re.findall("[A-Z][a-z]+", "MapleRiverCloudPineWillowRobinCedarBrookAspenCoralFernHazel")


def visible(text: str) -> str:
    """Invisible characters (zero-width, controls) dropped and runs of spaces collapsed; the
    rest kept as typed, full-width punctuation included."""
    kept = "".join(
        ch if ch == "\n" or unicodedata.category(ch) not in _INVISIBLE else "" for ch in text
    )
    return re.sub(r"[ \t\u3000]+", " ", kept)


def latin_skeleton(text: str) -> str:
    """Letters of other scripts that look Latin (Cyrillic Н о ѕ, Greek Ο) replaced by the Latin
    letter they pass for, so ``Ноѕt`` reads as ``Host``; everything else is kept."""
    found = confusables.is_confusable(text, greedy=True, preferred_aliases=["latin"])
    swaps: dict[str, str] = {}
    for item in found or []:
        latin = [h["c"] for h in item["homoglyphs"] if h["n"].startswith("LATIN")]
        if latin:
            swaps[item["character"]] = latin[0]
    return "".join(swaps.get(ch, ch) for ch in text)


def plain(text: str) -> str:
    """The text as it reads: compatibility forms folded (NFKC), invisible characters dropped,
    look-alike letters made Latin."""
    return latin_skeleton(visible(unicodedata.normalize("NFKC", text)))


def poses_as_staff(name: str) -> bool:
    """Staff or bot words however spaced, cased, widened, joined or spelled in look-alike
    letters (ｈｏｓｔ, 主 播, Ноѕt)."""
    plain_name = plain(name).casefold()
    return bool(
        _STAFF_WORDS.search(_SEPARATORS.sub(" ", plain_name))
        or _STAFF_ZH.search(_SEPARATORS.sub("", plain_name))
    )


def handle(user_id: str, language: Literal["zh", "en"] = "zh") -> str:
    """A neutral, stable name for a viewer whose own name cannot be shown or said (no digits:
    the anchor reads it aloud)."""
    n = int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:2], "big")
    tag = _TAGS_ZH[n % len(_TAGS_ZH)] if language == "zh" else _TAGS_EN[n % len(_TAGS_EN)]
    return f"观众{tag}" if language == "zh" else f"viewer {tag}"


def display_name(name: str, user_id: str, language: Literal["zh", "en"] = "zh") -> str:
    """The name the bot may show and say: the viewer's own, or a neutral handle when it sells,
    links, poses as staff, is too long or is empty once cleaned."""
    shown = visible(unicodedata.normalize("NFKC", name)).replace("@", "").strip()
    if (
        not shown
        or len(shown) > MAX_NAME
        or _SELLING.search(latin_skeleton(shown))
        or poses_as_staff(shown)
    ):
        return handle(user_id, language)
    return shown
