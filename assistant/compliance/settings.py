"""Where the Advertising Law word lists live (one gate for the whole service)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class ComplianceSettings(BaseModel):
    rules_dir: Path = Path("data/compliance")
