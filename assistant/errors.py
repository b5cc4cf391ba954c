"""The service's root exception and its typed children, mapped to wire error codes at the edge."""

from __future__ import annotations


class AssistantError(Exception):
    """Root of every error the assistant package raises on purpose."""

    code = "internal"
    status = 500

    def __init__(self, message: str, *, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class BadInput(AssistantError):
    code = "bad_input"
    status = 400


class Invalid(BadInput):
    """Well-formed input that fails validation."""

    status = 422


class BadMessage(BadInput):
    code = "bad_message"


class TooLarge(BadInput):
    code = "too_large"
    status = 413


class RateLimited(AssistantError):
    code = "rate_limited"
    status = 429


class Flooding(RateLimited):
    """A client that keeps sending after it was refused; its connection is closed."""


class Unauthorized(AssistantError):
    code = "unauthorized"
    status = 401


class Forbidden(AssistantError):
    code = "forbidden"
    status = 403


class NotFound(AssistantError):
    code = "not_found"
    status = 404


class BackendUnavailable(AssistantError):
    code = "backend_unavailable"
    status = 503

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
