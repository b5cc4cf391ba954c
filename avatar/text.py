"""Sentence, clause and language-run splitting for streaming synthesis."""

from __future__ import annotations

import re
from typing import Literal

from assistant.text import pieces, sentences

Lang = Literal["zh", "en"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(
    r"[A-Za-z][A-Za-z0-9'’\-.&+]*(?:[ \t]+[A-Za-z0-9][A-Za-z0-9'’\-.&+]*)*"
    r"|\d[\d.]*[A-Za-z][A-Za-z0-9\-]*"
)
_SPEAKABLE = re.compile(r"[\w\u3400-\u9fff]")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def speakable(text: str) -> bool:
    return bool(_SPEAKABLE.search(text))


def split_sentences(text: str, max_chars: int = 80, min_chars: int = 4) -> list[str]:
    """Split on sentence punctuation; merge fragments, and cut overlong ones at commas."""
    merged = merge_short(sentences(text), min_chars)
    out: list[str] = []
    for sentence in merged:
        while len(sentence) > max_chars:
            cut = max(sentence.rfind(c, 0, max_chars) for c in "，,、 ")
            cut = cut + 1 if cut > 0 else max_chars
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return [s for s in out if speakable(s)]


def merge_short(pieces: list[str], min_chars: int) -> list[str]:
    """Pieces under ``min_chars`` are said with the next one (the last with the one before)."""
    merged: list[str] = []
    for piece in pieces:
        if merged and len(merged[-1]) < min_chars:
            merged[-1] = join_pieces(merged[-1], piece)
        else:
            merged.append(piece)
    if len(merged) > 1 and len(merged[-1]) < min_chars:
        tail = merged.pop()
        merged[-1] = join_pieces(merged[-1], tail)
    return merged


def join_pieces(a: str, b: str) -> str:
    """Two pieces of one utterance: a space between Latin words, none in Chinese."""
    return f"{a} {b}" if a[-1:].isascii() and b[:1].isascii() else a + b


def split_clauses(text: str) -> list[str]:
    """Clause pieces for low first-audio latency: 中文，语音。 → ['中文，', '语音。']."""
    return [c for c in (p.strip() for p in pieces(text)) if speakable(c)]


def split_runs(text: str) -> list[tuple[Lang, str]]:
    """Chinese and Latin runs in order; text without any CJK is one English run."""
    if not has_cjk(text):
        return [("en", text.strip())] if speakable(text) else []
    runs: list[tuple[Lang, str]] = []
    pos = 0
    for m in _LATIN.finditer(text):
        if m.start() > pos:
            runs.append(("zh", text[pos : m.start()]))
        runs.append(("en", m.group(0).strip(" .-")))
        pos = m.end()
    if pos < len(text):
        runs.append(("zh", text[pos:]))
    return _compact(runs)


def _compact(runs: list[tuple[Lang, str]]) -> list[tuple[Lang, str]]:
    out: list[tuple[Lang, str]] = []
    for lang, chunk in runs:
        if not speakable(chunk):
            if out and chunk.strip():
                out[-1] = (out[-1][0], out[-1][1] + chunk.strip())
            continue
        if out and out[-1][0] == lang:
            out[-1] = (lang, out[-1][1] + chunk)
        else:
            out.append((lang, chunk))
    return [(lang, chunk.strip()) for lang, chunk in out]
