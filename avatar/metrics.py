"""Prometheus metrics of the avatar, registered on the services' registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class AvatarMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.gap = Histogram(
            "avatar_audio_gap_seconds",
            "Silence between consecutive anchor utterances as a listener hears it",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30),
            registry=registry,
        )
        self.gaps_over_limit = Counter(
            "avatar_audio_gaps_over_limit",
            "Silences longer than avatar.gap_limit_s (3 s by default)",
            registry=registry,
        )
        self.utterances = Counter(
            "avatar_utterances", "Utterances spoken", ["kind"], registry=registry
        )
        self.failures = Counter(
            "avatar_synthesis_failures",
            "Utterances skipped because synthesis failed",
            registry=registry,
        )
        self.fillers = Counter(
            "avatar_fillers",
            "Filler utterances played while no script was ready",
            ["source"],
            registry=registry,
        )
        self.first_audio = Histogram(
            "avatar_first_audio_seconds",
            "Synthesis start to first audio chunk",
            buckets=(0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=registry,
        )
        self.answer_latency = Histogram(
            "avatar_answer_latency_seconds",
            "Answer received to answer audio start",
            buckets=(0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 10, 30, 60),
            registry=registry,
        )
        self.answers_late = Counter(
            "avatar_answers_late", "Answers spoken after their deadline", registry=registry
        )
        self.answers_unspoken = Counter(
            "avatar_answers_unspoken",
            "Answers dropped from speech, not begun by their deadline (their text was shown)",
            registry=registry,
        )
        self.cut_ins = Counter(
            "avatar_cut_ins",
            "Sentences the anchor stopped at a clause to answer first (the rest said after)",
            registry=registry,
        )
        self.script_timeouts = Counter(
            "avatar_script_timeouts", "Script requests with no script in time", registry=registry
        )
        self.repeats_skipped = Counter(
            "avatar_repeats_skipped",
            "Script sentences not queued: the anchor said (or queued) them lately",
            registry=registry,
        )
