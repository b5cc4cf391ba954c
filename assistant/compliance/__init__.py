"""Advertising Law compliance gate: word lists, rewriting and the audit log."""

from assistant.compliance.audit import audit, audit_output
from assistant.compliance.gate import Change, ComplianceGate, Hit, Rewrite, load_gate
from assistant.compliance.rules import ComplianceError, Rule, load_rules
from assistant.compliance.settings import ComplianceSettings

__all__ = [
    "Change",
    "ComplianceError",
    "ComplianceGate",
    "ComplianceSettings",
    "Hit",
    "Rewrite",
    "Rule",
    "audit",
    "audit_output",
    "load_gate",
    "load_rules",
]
