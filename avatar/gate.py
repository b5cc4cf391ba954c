"""The compliance gate for anchor lines that did not pass the brain: fillers and host lines."""

from __future__ import annotations

import logging

from assistant.compliance import ComplianceGate

log = logging.getLogger(__name__)


class Gate:
    """Rewrites a line through the Advertising-Law word lists before it is spoken."""

    def __init__(self, gate: ComplianceGate) -> None:
        self._gate = gate

    def rewrite(self, text: str, category: str | None = None) -> str:
        result = self._gate.rewrite(text, category=category)
        if result.text != text:
            log.info("compliance rewrote an anchor line: %s", result.changes)
        return result.text
