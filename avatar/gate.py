"""Lazy access to the compliance gate (assistant.compliance) for filler and host lines."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Gate:
    """Rewrites text through the compliance gate; passes text through (logged) if not installed."""

    def __init__(self, directory: Path) -> None:
        self._gate: Any = None
        try:
            from assistant.compliance import load_gate
        except ImportError:
            log.warning("assistant.compliance is not importable yet: avatar lines are NOT gated")
            return
        self._gate = load_gate(directory)

    @property
    def active(self) -> bool:
        return self._gate is not None

    def rewrite(self, text: str, category: str | None = None) -> str:
        if self._gate is None:
            return text
        result = self._gate.rewrite(text, category=category)
        rewritten: str = result.text
        if rewritten != text:
            log.info("compliance rewrote an anchor line: %s", getattr(result, "changes", ""))
        return rewritten
