"""Utterances and the anchor's priority queue: host lines, then answers, then script sentences."""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel

Kind = Literal["host", "answer", "script", "filler"]
PRIORITY: dict[Kind, int] = {"host": 0, "answer": 1, "script": 2, "filler": 3}


class Utterance(BaseModel):
    """One sentence to speak; ``source`` is the script/answer/host-line id it came from."""

    kind: Kind
    source: str
    index: int
    text: str
    sku: str | None = None
    part: int = 0  # clauses of the sentence already said before an answer cut in
    received: float = 0.0  # loop time it was queued (answers: for the deadline)
    deadline: float | None = None

    @property
    def uid(self) -> str:
        return f"{self.source}.{self.index}"


class SpeechQueue:
    """Stable priority order; bounded: when full, the oldest script sentences are dropped."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._items: list[tuple[int, int, Utterance]] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, utt: Utterance, *, front: bool = False) -> None:
        order = -next(self._counter) if front else next(self._counter)
        self._items.append((PRIORITY[utt.kind], order, utt))
        self._items.sort(key=lambda t: (t[0], t[1]))
        while len(self._items) > self.max_pending:
            victims = [t for t in self._items if t[2].kind == "script"] or self._items
            self._items.remove(victims[0])

    def pop(self) -> Utterance | None:
        return self._items.pop(0)[2] if self._items else None

    def peek(self) -> Utterance | None:
        return self._items[0][2] if self._items else None

    def pop_kind(self, kind: Kind) -> Utterance | None:
        for i, item in enumerate(self._items):
            if item[2].kind == kind:
                return self._items.pop(i)[2]
        return None

    def drop_stale_answers(self, now: float) -> int:
        """Answers not begun by their deadline leave the queue, every sentence of them.

        Their text is on screen already; said later they would answer what the room has moved
        past, and a backlog of them would crowd out selling. Returns how many were dropped.
        """
        stale = {
            u.source
            for _, _, u in self._items
            if u.kind == "answer" and u.index == 0 and u.part == 0
            and u.deadline is not None and now > u.deadline
        }  # fmt: skip
        self._items = [t for t in self._items if t[2].source not in stale]
        return len(stale)

    def count(self, kind: Kind) -> int:
        return sum(1 for t in self._items if t[2].kind == kind)

    def drop_kind(self, kind: Kind) -> None:
        self._items = [t for t in self._items if t[2].kind != kind]

    def dump(self) -> list[dict[str, Any]]:
        return [t[2].model_dump(mode="json", exclude={"received", "deadline"}) for t in self._items]
