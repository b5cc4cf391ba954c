"""The anchor push's typed errors, children of the avatar package's root."""

from __future__ import annotations

from avatar.errors import AvatarError


class PushError(AvatarError):
    """Root of the errors the anchor push raises on purpose."""

    code = "push_error"
    status = 500


class BadPushUrl(PushError):
    """Not an ``rtmp://`` or ``rtmps://`` address with a host and an application path."""

    code = "bad_input"
    status = 400


class NotAnchorRoom(PushError):
    """Only a virtual-anchor room has a program of its own to push."""

    code = "not_anchor_room"
    status = 409


class PushUnavailable(PushError):
    """PyAV, which encodes and sends the stream, is not installed; the message names the fix."""

    code = "backend_unavailable"
    status = 503
