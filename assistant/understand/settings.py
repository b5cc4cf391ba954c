"""Settings of the chat-understanding step (env ``LCA_UNDERSTAND__…``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class UnderstandSettings(BaseModel):
    """How chat lines are linked to products and facts."""

    # The multilingual sentence embedder that links names and facts by meaning; recommend
    # shares the same loaded model. "none": names and sounds only.
    embedder: Literal["use", "e5", "sentence-transformers", "none"] = "use"
    threads: int = Field(default=1, ge=1, le=16)
    st_model_path: Path | None = None
    # How long the product a viewer asked about stays what "那黑色的呢" refers to.
    memory_s: float = Field(default=300.0, ge=0)
    # Lines waiting for the embedder beyond this are read by names and sounds alone.
    max_pending: int = Field(default=256, ge=1)
