"""Script quality measures: repetition, variety, card coverage, invention and spoken length."""

from __future__ import annotations

import itertools
import re

from assistant.brain.answers.guard import check
from assistant.brain.scripts.checks import unbacked_entities
from assistant.compliance import ComplianceGate
from assistant.repeats import Repeats
from assistant.text import normalise, sentences

_WORD = re.compile(r"[a-z0-9']+")
# A selling point counts as said when this share of its character bigrams is in the script.
COVERED = 0.5


def repeated_within(text: str) -> float:
    """Share of a script's sentences that say again what an earlier one of it said."""
    said = Repeats()
    parts = sentences(text)
    repeats = 0
    for sentence in parts:
        repeats += said.is_repeat(sentence)
        said.add(sentence)
    return repeats / len(parts) if parts else 0.0


def repeated_across(scripts: list[str], window: int = 5) -> float:
    """Share of sentences that repeat one of the product's previous ``window - 1`` scripts."""
    repeats = total = 0
    for k, text in enumerate(scripts):
        before = Repeats(s for prev in scripts[max(0, k - window + 1) : k] for s in sentences(prev))
        parts = sentences(text)
        total += len(parts) if k else 0
        repeats += sum(before.is_repeat(s) for s in parts) if k else 0
    return repeats / total if total else 0.0


def _bigrams(text: str) -> list[str]:
    """Word bigrams for English, character bigrams otherwise; a one-word text is its word."""
    if text.isascii():
        words = _WORD.findall(text.casefold())
        return [f"{a} {b}" for a, b in itertools.pairwise(words)] or words
    t = normalise(text)
    return [t[i : i + 2] for i in range(len(t) - 1)] or ([t] if t else [])


def distinct_2(text: str) -> float:
    """Distinct bigrams (characters for Chinese, words for English) over all of a script's."""
    grams = _bigrams(text)
    return len(set(grams)) / len(grams) if grams else 0.0


def covered(point: str, text: str) -> bool:
    """Whether ``text`` says ``point``: compared in the point's own units (English words or
    characters), so "500ml" is found in a Chinese sentence."""
    want = set(_bigrams(point))
    if point.isascii():
        words = _WORD.findall(text.casefold())
        have = {f"{a} {b}" for a, b in itertools.pairwise(words)} | set(words)
    else:
        have = set(_bigrams(text))
    return bool(want) and len(want & have) / len(want) >= COVERED


def coverage(points: list[str], texts: list[str]) -> float:
    """Share of ``points`` (selling points, key attributes) said in any of ``texts``."""
    if not points:
        return 1.0
    joined = "\n".join(texts)
    return sum(covered(p, joined) for p in points) / len(points)


def unbacked_numbers(text: str, source: str, prices: set[str], extra: set[str]) -> int:
    """Numbers and money amounts the card does not back, each counted once."""
    bad = check(text, source, allowed_extra=extra, allowed_prices=prices).bad
    return len({b.removeprefix("price ") for b in bad})


def unbacked_names(text: str, source: str) -> int:
    """Names, places, brands, roles and certifications the card does not back."""
    return sum(len(unbacked_entities(s, source)) for s in sentences(text))


def compliance_terms(text: str, gate: ComplianceGate, category: str | None) -> int:
    """Advertising Law terms the gate would still change in ``text``."""
    return len(gate.rewrite(text, category=category).changes)


def spoken_seconds(text: str, chars_per_second: float) -> float:
    return len(text) / chars_per_second


def length_error(text: str, seconds: float, chars_per_second: float) -> float:
    """|spoken length - requested| / requested, at the voice's measured rate."""
    return abs(spoken_seconds(text, chars_per_second) - seconds) / seconds
