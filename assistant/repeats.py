"""Near repeats by character 4-grams: what the script checks and the anchor never say twice."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable

from assistant.text import clauses, ngrams, normalise

# A clause this long (letters and digits only) said twice is a repeat, however it is framed.
MIN_CLAUSE = 5
# A sentence sharing this much of its character 4-grams with one already said says it again.
NEAR_REPEAT = 0.6


def grams(text: str) -> frozenset[str]:
    return ngrams(normalise(text), 4)


def containment(text: str, previous: list[str]) -> float:
    """Share of ``text``'s character 4-grams already present in the previous texts."""
    mine = grams(text)
    seen = set().union(*(grams(p) for p in previous)) if previous else set()
    return len(mine & seen) / len(mine) if mine else 0.0


class Repeats:
    """What was said already (this script, the product's recent scripts, the anchor's queue and
    history): a sentence saying one of those again, whole or by a clause, is caught. With a
    ``window``, only the last ``window`` sentences count."""

    def __init__(self, said: Iterable[str] = (), window: int | None = None) -> None:
        self._said: deque[tuple[frozenset[str], set[str]]] = deque(maxlen=window)
        self._clauses: Counter[str] = Counter()
        for sentence in said:
            self.add(sentence)

    def add(self, sentence: str) -> None:
        g = grams(sentence)
        if not g:
            return
        if len(self._said) == self._said.maxlen:
            self._clauses -= Counter(self._said[0][1])
        mine = {n for c in clauses(sentence) if len(n := normalise(c)) >= MIN_CLAUSE}
        self._said.append((g, mine))
        self._clauses.update(mine)

    def is_repeat(self, sentence: str) -> bool:
        g = grams(sentence)
        return bool(g) and any(len(g & s) / len(g) >= NEAR_REPEAT for s, _ in self._said)

    def fresh(self, sentence: str) -> str:
        """The sentence without the clauses said before; "" if nothing new is left."""
        if self.is_repeat(sentence):
            return ""
        kept = [c for c in clauses(sentence) if normalise(c) not in self._clauses]
        if len(kept) == len(clauses(sentence)):
            return sentence
        if sum(len(normalise(c)) for c in kept) < MIN_CLAUSE:
            return ""
        end = sentence.rstrip()[-1:]
        joiner = ", " if sentence.isascii() else "，"
        return joiner.join(kept) + (end if end in "。！？!?." else "")
