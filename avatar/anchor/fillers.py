"""What the anchor says while no fresh script is ready: cached scripts, then filler lines."""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

log = logging.getLogger(__name__)


class CachedScript(BaseModel):
    key: str
    sku: str | None
    sentences: list[str]
    played: int = 0


class Pick(BaseModel):
    source: str
    index: int
    text: str
    kind: Literal["script", "filler"]  # "script": a replayed script
    sku: str | None = None  # what a replayed script sells, so the stage follows it


def load_lines(path: Path, language: str) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("no filler lines at %s (%s); using a built-in line", path, exc)
        data = {}
    lines = [str(x) for x in data.get(language, []) if str(x).strip()]
    return lines or (["欢迎来到直播间！"] if language == "zh" else ["Welcome to the live room!"])


class Fillers:
    """Varied: replays the least recently played cached script that was not just spoken, one
    sentence at a time; falls back to short filler lines, never the same line twice in a row."""

    def __init__(self, lines: list[str], size: int, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.lines = lines
        self.cache: deque[CachedScript] = deque(
            (CachedScript.model_validate(c) for c in state.get("cache", [])), maxlen=size
        )
        self.line_turn: int = int(state.get("line_turn", 0))
        self.replay: CachedScript | None = None
        self.replay_index = 0

    def remember(self, key: str, sku: str | None, sentences: list[str]) -> None:
        if sentences and all(c.key != key for c in self.cache):
            self.cache.append(CachedScript(key=key, sku=sku, sentences=sentences))

    def reset(self) -> None:
        """A fresh script took over: stop the replay in progress."""
        self.replay = None
        self.replay_index = 0

    def next(
        self, last_script: str | None, last_was_filler: bool, said_lately: Callable[[str], bool]
    ) -> Pick:
        """``last_script``: the script spoken last; replays alternate with filler lines.

        A replayed sentence that ``said_lately`` would be a repeat: the replay stops there.
        """
        pick = self._next(last_script, last_was_filler)
        if pick.kind == "script" and said_lately(pick.text):
            self.reset()
            return self.line()
        return pick

    def _next(self, last_script: str | None, last_was_filler: bool) -> Pick:
        if self.replay is not None and self.replay_index < len(self.replay.sentences):
            return self._replay_pick()
        self.replay = None
        candidates = [c for c in self.cache if c.key != last_script]
        if candidates and last_was_filler:
            self.replay = min(candidates, key=lambda c: c.played)
            self.replay.played += 1
            self.replay_index = 0
            return self._replay_pick()
        return self.line()

    def _replay_pick(self) -> Pick:
        assert self.replay is not None
        i = self.replay_index
        self.replay_index += 1
        return Pick(
            source=self.replay.key,
            index=i,
            text=self.replay.sentences[i],
            kind="script",
            sku=self.replay.sku,
        )

    def line(self) -> Pick:
        """The next filler line, in turn."""
        i = self.line_turn % len(self.lines)
        self.line_turn += 1
        return Pick(source=f"filler-{i}", index=0, text=self.lines[i], kind="filler")

    def dump(self) -> dict[str, Any]:
        return {"cache": [c.model_dump() for c in self.cache], "line_turn": self.line_turn}
