"""LLM backends behind one protocol, chosen by name in LLMSettings."""

from __future__ import annotations

from pathlib import Path

from assistant.brain.llm.base import (
    LLM,
    BadStructuredOutput,
    LLMTimeout,
    LLMUnavailable,
    Message,
    collect,
)
from assistant.brain.llm.settings import (
    AnswerSettings,
    LLMSettings,
    ScriptSettings,
)

__all__ = [
    "LLM",
    "AnswerSettings",
    "BadStructuredOutput",
    "LLMSettings",
    "LLMTimeout",
    "LLMUnavailable",
    "Message",
    "ScriptSettings",
    "collect",
    "create_llm",
]


def create_llm(settings: LLMSettings, model_dir: Path) -> LLM | None:
    """Build the configured backend (imports lazily); ``none`` means template/fact answers only."""
    if settings.backend == "none":
        return None
    if settings.backend == "openai":
        from assistant.brain.llm.openai import OpenAILLM

        return OpenAILLM(settings)
    from assistant.brain.llm.llamacpp import LlamaCppLLM
    from assistant.brain.llm.models import model_path

    path = settings.model_path or model_path(model_dir, settings.preset)
    return LlamaCppLLM(
        settings, path, install_hint=f"python -m assistant.brain.llm.install {settings.preset}"
    )
