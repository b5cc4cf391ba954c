"""What the answerer and the script writer share: bus, store, LLM, compliance gate and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from assistant.brain.answers.metrics import BrainMetrics
    from assistant.brain.llm.base import LLM
    from assistant.brain.llm.settings import LLMSettings
    from assistant.bus import EventBus
    from assistant.compliance import ComplianceGate
    from assistant.store import Store

S = TypeVar("S")


class BrainPart(Generic[S]):
    """One job of the brain, with its own settings ``S`` and the brain's shared parts."""

    def __init__(
        self,
        *,
        bus: EventBus,
        store: Store,
        llm: LLM | None,
        gate: ComplianceGate,
        settings: S,
        llm_settings: LLMSettings,
        metrics: BrainMetrics,
    ) -> None:
        self.bus, self.store, self.llm, self.gate = bus, store, llm, gate
        self.settings, self.llm_settings, self.metrics = settings, llm_settings, metrics
