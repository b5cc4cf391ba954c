"""The compliance gate: rewrites Advertising Law terms found by Aho-Corasick, never masks them."""

from __future__ import annotations

from pathlib import Path

import ahocorasick  # type: ignore[import-not-found,unused-ignore]
from pydantic import BaseModel

from assistant.compliance.rules import Rule, load_rules
from assistant.untrusted import visible

_CLAUSE_END = set("。！？；，、!?;,\n")
_SOFT_END = {",": ".", "，": "。", "、": "。", ";": ".", "；": "。"}


def _boundary(text: str, i: int) -> bool:
    """Whether ``text[i]`` ends a clause (a period only before a space or the end)."""
    ch = text[i]
    if ch in _CLAUSE_END:
        return True
    return ch == "." and (i + 1 == len(text) or text[i + 1].isspace())


class Change(BaseModel):
    """One edit: the rule that fired, the text before and after (``after`` empty = dropped)."""

    rule: str
    before: str
    after: str
    category: str | None = None


class Rewrite(BaseModel):
    text: str
    changes: list[Change]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class Hit(BaseModel):
    start: int
    end: int
    rule: Rule


def _is_word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class ComplianceGate:
    """Scans text for every term at once; rewrites in place or drops the offending clause."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._auto: ahocorasick.Automaton = ahocorasick.Automaton()
        by_term: dict[str, list[Rule]] = {}
        for rule in rules:
            by_term.setdefault(rule.term.casefold(), []).append(rule)
        for term, group in by_term.items():
            self._auto.add_word(term, (term, group))
        self._auto.make_automaton()

    def scan(self, text: str, *, category: str | None = None) -> list[Hit]:
        """Non-overlapping hits, leftmost-longest, for the rules that apply to ``category``."""
        if not self.rules or not text:
            return []
        low = text.casefold()
        if len(low) != len(text):  # casefold changed lengths (e.g. ß): fall back to lower()
            low = text.lower() if len(text.lower()) == len(text) else text
        found: list[Hit] = []
        for end_idx, (term, group) in self._auto.iter(low):
            start = end_idx - len(term) + 1
            end = end_idx + 1
            if _is_word(term[0]) and start > 0 and _is_word(low[start - 1]):
                continue
            if _is_word(term[-1]) and end < len(low) and _is_word(low[end]):
                continue
            rule = _pick(group, category)
            if rule is not None:
                found.append(Hit(start=start, end=end, rule=rule))
        found.sort(key=lambda h: (h.start, -(h.end - h.start)))
        out: list[Hit] = []
        last_end = -1
        for hit in found:
            if hit.start >= last_end:
                out.append(hit)
                last_end = hit.end
        return out

    def rewrite(self, text: str, *, category: str | None = None) -> Rewrite:
        """Return compliant text and the list of changes; unrewritable clauses are dropped.

        Invisible characters go first: a zero-width space must not hide a term from the gate.
        """
        text = visible(text)
        changes: list[Change] = []
        text = self._drop_clauses(text, category, changes)
        pieces: list[str] = []
        pos = 0
        for hit in self.scan(text, category=category):
            assert hit.rule.rewrite is not None
            before = text[hit.start : hit.end]
            pieces.append(text[pos : hit.start])
            pieces.append(hit.rule.rewrite)
            changes.append(
                Change(rule=hit.rule.rule, before=before, after=hit.rule.rewrite, category=category)
            )
            pos = hit.end
        pieces.append(text[pos:])
        return Rewrite(text="".join(pieces), changes=changes)

    def _drop_clauses(self, text: str, category: str | None, changes: list[Change]) -> str:
        while True:
            hit = next(
                (h for h in self.scan(text, category=category) if h.rule.rewrite is None), None
            )
            if hit is None:
                return text
            start = hit.start
            while start > 0 and not _boundary(text, start - 1):
                start -= 1
            end = hit.end
            while end < len(text) and not _boundary(text, end):
                end += 1
            if end < len(text):
                end += 1  # the clause takes its own punctuation with it
            clause = text[start:end]
            changes.append(Change(rule=hit.rule.rule, before=clause, after="", category=category))
            text = (text[:start] + text[end:]).strip()
            if text[:1] in _CLAUSE_END:
                text = text[1:].lstrip()
            if text[-1:] in _SOFT_END:
                text = text[:-1] + _SOFT_END[text[-1]]

    def violations(self, text: str, *, category: str | None = None) -> list[str]:
        """The forbidden terms still present in ``text`` (0 after ``rewrite``)."""
        return [text[h.start : h.end] for h in self.scan(text, category=category)]


def _pick(group: list[Rule], category: str | None) -> Rule | None:
    for rule in group:
        cats = rule.categories or ["*"]
        if "*" in cats or category is None or category.casefold() in {c.casefold() for c in cats}:
            return rule
    return None


def load_gate(directory: Path) -> ComplianceGate:
    """Build a gate from the YAML word lists in ``directory`` (e.g. ``data/compliance``)."""
    return ComplianceGate(load_rules(directory))
