"""Push addresses: which are accepted, and how they show without their stream key."""

from __future__ import annotations

from urllib.parse import urlsplit

from avatar.push.errors import BadPushUrl

SCHEMES = ("rtmp", "rtmps")
MAX_LENGTH = 2048


def checked(url: str) -> str:
    """``url`` when it is an RTMP(S) address a push can use; else ``BadPushUrl``."""
    url = url.strip()
    if len(url) > MAX_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise BadPushUrl(f"a push URL is at most {MAX_LENGTH} characters, without spaces")
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise BadPushUrl("a push URL starts with rtmp:// or rtmps://")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise BadPushUrl("the push URL's port is not a number from 1 to 65535")
    if not parts.hostname:
        raise BadPushUrl("the push URL names no host")
    if not parts.path.strip("/"):
        raise BadPushUrl("the push URL names no application (rtmp://host/app/stream-key)")
    return url


def redacted(url: str) -> str:
    """The address with its stream key (everything after the application) and any user
    information hidden: what status and logs may show."""
    parts = urlsplit(url)
    app, _, key = parts.path.lstrip("/").partition("/")
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    hidden = "/***" if key or parts.query else ""
    return f"{parts.scheme}://{host}/{app}{hidden}"


def scrubbed(text: str, url: str) -> str:
    """A message with the address in it redacted, and the stream key wherever it appears."""
    text = text.replace(url, redacted(url))
    key = urlsplit(url).path.lstrip("/").partition("/")[2]
    return text.replace(key, "***") if len(key) >= 4 else text
