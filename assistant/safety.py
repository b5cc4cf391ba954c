"""Safe defaults at start: no default admin token off loopback, and no token in a log line."""

from __future__ import annotations

import ipaddress
import logging
import re

from assistant.settings import ServerSettings

DEFAULT_ADMIN_TOKEN = "change-me-admin"
_TOKEN = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[^\s\"']+", re.IGNORECASE)
log = logging.getLogger(__name__)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_start(server: ServerSettings) -> None:
    """Refuse the default admin token where others can reach the service; warn on loopback."""
    if server.admin_token.get_secret_value() != DEFAULT_ADMIN_TOKEN:
        return
    if not loopback(server.host):
        raise SystemExit(
            f"refusing to serve on {server.host} with the default admin token: "
            "set LCA_SERVER__ADMIN_TOKEN to a secret of your own"
        )
    log.warning("the admin token is the default one: set LCA_SERVER__ADMIN_TOKEN before exposing")


def redact(text: str) -> str:
    return _BEARER.sub(r"\1***", _TOKEN.sub(r"\1***", text))


class RedactTokens(logging.Filter):
    """Redacts a record's arguments (or its message when it has none) in place: uvicorn's access
    formatter reads the arguments one by one, so their shape is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_server_logs() -> None:
    """The server's request and error lines carry the URL, and a page's URL carries its token."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
