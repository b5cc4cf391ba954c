"""Cheap checks on incoming frames before they reach the bus: size and image signature."""

from __future__ import annotations

from assistant.errors import BadInput, TooLarge

_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def check_frame(data: bytes, limit: int) -> bytes:
    if len(data) > limit:
        raise TooLarge(f"frame larger than {limit} bytes")
    if not data.startswith(_SIGNATURES):
        raise BadInput("a frame must be JPEG or PNG bytes")
    return data
