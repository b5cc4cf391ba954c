"""The recommend package's root error and its typed children, mapped to wire codes at the edge."""

from __future__ import annotations

from assistant.errors import AssistantError


class RecommendError(AssistantError):
    """Root of every error the recommend package raises on purpose."""

    code = "recommend_error"
    status = 500


class RecommendBadInput(RecommendError):
    """A query, price filter or vector the recommender cannot use."""

    code = "bad_input"
    status = 400


class UnknownSku(RecommendError):
    code = "not_found"
    status = 404


class RecommendBackendUnavailable(RecommendError):
    """A model or extra is missing; the message names the command that installs it."""

    code = "backend_unavailable"
    status = 503

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
