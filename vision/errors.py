"""The vision package's root exception and its typed children, with PAI error codes."""

from __future__ import annotations

from assistant.errors import AssistantError


class VisionError(AssistantError):
    """Root of every error the vision package raises on purpose; one of the service's errors."""

    code = "vision_error"
    status = 500
    error_code = 500  # PAI bodies carry an INT error_code


class BadImage(VisionError):
    """The bytes are not a decodable, complete image (or not valid base64)."""

    code = "bad_image"
    status = 400
    error_code = 400


class BadRequest(VisionError):
    """The JSON body does not match the model's request shape."""

    code = "bad_request"
    status = 400
    error_code = 400


class ImageTooLarge(VisionError):
    code = "too_large"
    status = 413
    error_code = 413


class UnknownModel(VisionError):
    code = "unknown_model"
    status = 404
    error_code = 404


class ModelMissing(VisionError):
    """A model file is not in the cache; the message names the install command."""

    code = "model_missing"
    status = 503
    error_code = 503


class Busy(VisionError):
    code = "busy"
    status = 503
    error_code = 429


class Unauthorized(VisionError):
    code = "unauthorized"
    status = 401
    error_code = 401


class TooManyRequests(VisionError):
    code = "rate_limited"
    status = 429
    error_code = 429
