"""Prometheus metrics of the brain, registered on the app's registry."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram


class BrainMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.llm_failure_count = 0
        self.last_llm_failure: tuple[float, str] | None = None
        self.answers = Counter(
            "lca_brain_answers_total", "Answers sent, by source", ["source"], registry=registry
        )
        self.skipped = Counter(
            "lca_brain_skipped_total", "Questions skipped, by reason", ["reason"], registry=registry
        )
        self.llm_failures = Counter(
            "lca_brain_llm_failures_total",
            "LLM calls that failed or timed out (fallback used)",
            ["kind"],
            registry=registry,
        )
        self.guard_rejections = Counter(
            "lca_brain_fact_guard_rejections_total",
            "LLM outputs rejected by the fact guard",
            registry=registry,
        )
        self.compliance_changes = Counter(
            "lca_brain_compliance_changes_total",
            "Compliance rewrites and drops",
            ["source"],
            registry=registry,
        )
        self.scripts = Counter(
            "lca_brain_scripts_total", "Scripts generated", ["fallback"], registry=registry
        )
        self.first_token = Histogram(
            "lca_brain_answer_first_token_seconds",
            "Time from pick-up to the first answer delta",
            ["source"],
            buckets=(0.01, 0.05, 0.1, 0.3, 0.5, 1, 1.5, 2, 3, 5, 10),
            registry=registry,
        )

    def llm_failed(self, kind: str, exc: BaseException) -> None:
        """Count a failed LLM call and remember the latest, for the console's health panel."""
        self.llm_failures.labels(kind).inc()
        self.llm_failure_count += 1
        self.last_llm_failure = (time.time(), f"{kind}: {exc}")
