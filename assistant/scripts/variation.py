"""N-gram overlap between scripts, so a product's next script does not repeat the last ones."""

from __future__ import annotations

import re

_SENT = re.compile(r"[^。！？!?\n]+[。！？!?]?|[^.!?\n]+[.!?]?")


def ngrams(text: str, n: int = 4) -> set[str]:
    text = "".join(ch for ch in text.casefold() if ch.isalnum())
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def containment(text: str, previous: list[str], n: int = 4) -> float:
    """Share of ``text``'s character n-grams already present in the previous scripts."""
    grams = ngrams(text, n)
    if not grams:
        return 0.0
    seen: set[str] = set()
    for prev in previous:
        seen |= ngrams(prev, n)
    return len(grams & seen) / len(grams)


def sentences(text: str) -> list[str]:
    return [s for s in (m.group().strip() for m in _SENT.finditer(text)) if s]
