"""The avatar package's root exception and its typed children."""

from __future__ import annotations

from assistant.errors import AssistantError


class AvatarError(AssistantError):
    """Root of every error the avatar package raises on purpose."""

    code = "avatar_error"
    status = 500


class BackendMissing(AvatarError):
    """A TTS backend's package or model files are not installed; the message names the fix."""

    code = "backend_unavailable"
    status = 503


class SynthesisFailed(AvatarError):
    """One utterance could not be synthesized (bad text, backend crash, timeout)."""

    code = "synthesis_failed"
    status = 500


class UnknownBackend(AvatarError):
    code = "bad_input"
    status = 400
