"""Redis Streams helpers of the Redis bus: stream ids, the checks it runs as Lua, its backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from redis.exceptions import RedisError

from assistant.bus.base import BusUnavailable
from assistant.supervise import Backoff

log = logging.getLogger("assistant.bus.redis")

# Errors that mean "Redis cannot be reached now": retried with backoff, never fatal.
DOWN = (RedisError, OSError, TimeoutError)
Entries = list[tuple[bytes, dict[bytes, bytes]]]

# The server's run id, and for each stream its first and last entry ids ('' when it has none).
_PROBE = """
local out = {}
for i, key in ipairs(KEYS) do
    local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
    local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
    out[i] = {first and first[1] or '', last and last[1] or ''}
end
return {string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or '', out}
"""
# Up to ARGV[2] entries after ARGV[1] and, in the same atomic step, whether everything up to
# ARGV[1] is gone (the stream was trimmed past the reader, or lost): 1 if so.
_READ_CHECKED = """
local after = ARGV[1]
local gone = 0
if after ~= '0-0' and #redis.call('XREVRANGE', KEYS[1], after, '-', 'COUNT', 1) == 0 then
    gone = 1
end
return {gone, redis.call('XRANGE', KEYS[1], '(' .. after, '+', 'COUNT', ARGV[2])}
"""


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """Redis that cannot be reached, as the bus's own typed error."""
    try:
        yield
    except DOWN as exc:
        raise BusUnavailable(f"redis unreachable: {exc}") from exc


def stream_id(raw: bytes | str) -> tuple[int, int]:
    """An entry id (``ms-seq``) as a tuple that orders as Redis does."""
    ms, _, seq = text(raw).partition("-")
    return int(ms or 0), int(seq or 0)


def text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def probe(client: Any, keys: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """The server's run id (new after every restart) and each stream's first and last entry
    ids (``"0-0"`` for a stream that is empty or gone), in one atomic step."""
    run_id, rows = await client.eval(_PROBE, len(keys), *keys)
    ids = [(text(first) or "0-0", text(last) or "0-0") for first, last in rows]
    return text(run_id), ids


async def read_checked(client: Any, key: str, after: str, count: int) -> tuple[bool, Entries]:
    """Up to ``count`` entries after ``after`` and whether entries up to ``after`` were all
    gone when they were read (trimmed past the reader, or lost with Redis's data)."""
    gone, raw = await client.eval(_READ_CHECKED, 1, key, after, count)
    entries = [(entry_id, dict(zip(flat[::2], flat[1::2], strict=True))) for entry_id, flat in raw]
    return bool(gone), entries


class Outage:
    """Backoff with jitter for one read loop (0.1 s doubling up to ``cap``), logging once per
    outage rather than per try."""

    def __init__(self, what: str, cap: float) -> None:
        self.what = what
        self.backoff = Backoff(first_s=0.1, max_s=cap)
        self.failures = 0

    async def failed(self, exc: BaseException) -> None:
        if self.failures == 0:
            if isinstance(exc, DOWN):
                log.warning("redis %s failed (%s); retrying with backoff", self.what, exc)
            else:
                log.error("redis %s failed; retrying with backoff", self.what, exc_info=exc)
        self.failures += 1
        await asyncio.sleep(self.backoff.delay(self.failures))

    def ok(self) -> bool:
        """Record a success; True if it ends an outage."""
        ended, self.failures = self.failures > 0, 0
        if ended:
            log.info("redis %s back", self.what)
        return ended
