"""Script sentences into the speech queue as they stream in; none said lately is said again."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from assistant.repeats import Repeats
from avatar.anchor.queue import SpeechQueue, Utterance
from avatar.text import split_sentences

if TYPE_CHECKING:
    from avatar.metrics import AvatarMetrics


class ScriptFeed:
    """Numbers each script's sentences across its deltas and remembers what was queued."""

    def __init__(self, queue: SpeechQueue, metrics: AvatarMetrics, window: int) -> None:
        self.queue, self.metrics = queue, metrics
        self.recent: deque[str] = deque(maxlen=window)
        self._said = Repeats(window=window)
        self._counts: dict[str, int] = {}  # open script id -> sentences queued so far

    def restore(self, recent: Iterable[str]) -> None:
        for sentence in recent:
            self._remember(sentence)

    def _remember(self, sentence: str) -> None:
        self.recent.append(sentence)
        self._said.add(sentence)

    def said_lately(self, sentence: str) -> bool:
        return self._said.is_repeat(sentence)

    def open(self, source: str) -> None:
        self._counts[source] = 0

    def is_open(self, source: str) -> bool:
        return source in self._counts

    def close(self, source: str) -> int:
        """Forget an open script; returns how many of its sentences were queued."""
        return self._counts.pop(source, 0)

    def push(self, source: str, sku: str | None, text: str, *, verbatim: bool = False) -> None:
        """Queue the sentences of ``text``; a host-approved script is kept verbatim."""
        index = self._counts.get(source, 0)
        for sentence in split_sentences(text):
            if not verbatim and self._said.is_repeat(sentence):
                self.metrics.repeats_skipped.inc()
                continue
            self._remember(sentence)
            self.queue.push(
                Utterance(kind="script", source=source, index=index, text=sentence, sku=sku)
            )
            index += 1
        if source in self._counts:
            self._counts[source] = index
