"""Package boundaries over every module's AST: which package may import which, one error root."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = ("vision", "recommend", "avatar")
BRAIN = ("assistant.brain",)
# What the core offers capabilities; anything else of the core or the brain is private to it.
CORE_API = (
    "assistant.events",
    "assistant.bus",
    "assistant.plugins",
    "assistant.catalog",
    "assistant.errors",
    "assistant.store",
    "assistant.embedders",
    "assistant.compliance",
    "assistant.understand.text",
    "assistant.text",
    "assistant.approved",
    "assistant.repeats",
    "assistant.tasks",
    "assistant.install",
    "assistant.access",
    "assistant.supervise",
)
# The core's settings gather every part's settings into one Settings (one env namespace).
SETTINGS = ("assistant.brain.llm.settings", *(f"{c}.settings" for c in CAPABILITIES))


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def imports(package: str) -> dict[str, set[str]]:
    """Module name -> every module it imports, at any depth of its code, type-only ones too."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
        out[name] = found
    return out


def breaches(package: str, allowed: object) -> list[str]:
    return [
        f"{module} imports {target}"
        for module, targets in imports(package).items()
        for target in sorted(targets)
        if not allowed(module, target)  # type: ignore[operator]
    ]


def test_a_capability_imports_only_itself_and_the_core_api() -> None:
    for cap in CAPABILITIES:
        others = tuple(c for c in CAPABILITIES if c != cap)

        def allowed(_: str, target: str, others: tuple[str, ...] = others) -> bool:
            if within(target, others):
                return False
            return not within(target, ("assistant",)) or within(target, CORE_API)

        assert breaches(cap, allowed) == []


def test_the_core_imports_no_brain_and_no_capability_but_their_settings() -> None:
    def allowed(module: str, target: str) -> bool:
        if within(module, BRAIN) or not within(target, (*BRAIN, *CAPABILITIES)):
            return True
        return module == "assistant.settings" and target in SETTINGS

    assert breaches("assistant", allowed) == []


def test_the_brain_imports_no_capability() -> None:
    def allowed(module: str, target: str) -> bool:
        return not (within(module, BRAIN) and within(target, CAPABILITIES))

    assert breaches("assistant", allowed) == []


def test_the_rules_see_imports() -> None:
    seen = imports("avatar")
    assert "assistant.events" in set().union(*seen.values())  # the walk finds real imports
    assert any(within(t, ("assistant.compliance",)) for t in set().union(*seen.values()))


def test_every_error_descends_from_the_one_root() -> None:
    """Each package's errors subclass ``assistant.errors.AssistantError``; none start a tree."""
    roots = []
    for package in ("assistant", *CAPABILITIES):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef):
                    continue
                names = {b.id for b in node.bases if isinstance(b, ast.Name)}
                builtin = {n for n in names if isinstance(getattr(builtins, n, None), type)}
                if any(issubclass(getattr(builtins, n), BaseException) for n in builtin):
                    roots.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert roots == ["assistant/errors.py:AssistantError"]
