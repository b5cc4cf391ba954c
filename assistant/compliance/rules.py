"""Compliance word lists: editable YAML files of terms, each with a category and a safe rewrite."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import BadInput


class ComplianceError(BadInput):
    """A word list that cannot be loaded."""

    code = "compliance_rules"


class Rule(BaseModel):
    """One forbidden term; ``rewrite: null`` drops the clause that contains it."""

    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=1, max_length=100)
    rewrite: str | None
    categories: list[str] | None = None
    rule: str = ""


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    categories: list[str] = Field(default_factory=lambda: ["*"])
    rules: list[Rule]


def load_rules(directory: Path) -> list[Rule]:
    """Read every ``*.yaml`` in a directory; each rule gets an id ``<file>:<term>``."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ComplianceError(f"no compliance word lists (*.yaml) in {directory}")
    out: list[Rule] = []
    seen: dict[tuple[str, str], str] = {}
    for path in files:
        try:
            parsed = RuleFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError, OSError) as exc:
            raise ComplianceError(f"bad compliance list {path.name}: {exc}") from exc
        for rule in parsed.rules:
            cats = rule.categories or parsed.categories
            for cat in cats:
                key = (rule.term.casefold(), cat)
                if key in seen:
                    raise ComplianceError(
                        f"{path.name}: term {rule.term!r} already defined in {seen[key]}"
                    )
                seen[key] = path.name
            out.append(
                rule.model_copy(update={"categories": cats, "rule": f"{parsed.name}:{rule.term}"})
            )
    _check_rewrites(out)
    return out


def _check_rewrites(rules: list[Rule]) -> None:
    """A rewrite must not itself contain a forbidden term, or the gate would not converge."""
    terms = [r.term.casefold() for r in rules]
    for rule in rules:
        if rule.rewrite is None:
            continue
        low = rule.rewrite.casefold()
        bad = [t for t in terms if t in low]
        if bad:
            raise ComplianceError(f"rewrite {rule.rewrite!r} of {rule.rule} contains {bad[0]!r}")
