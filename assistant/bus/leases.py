"""Leases on Redis: one owner per key at a time, renewed by its owner, lapsing when it dies."""

from __future__ import annotations

from typing import Any

# Renew when we own it, take it when nobody does; atomic, so two instances never both win.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if holder then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


async def hold(client: Any, key: str, owner: str, ttl_s: float) -> bool:
    """Take or renew ``key`` for ``owner`` for ``ttl_s`` seconds; False if another holds it."""
    return bool(await client.eval(_HOLD, 1, key, owner, max(1, int(ttl_s * 1000))))


async def release(client: Any, key: str, owner: str) -> None:
    await client.eval(_RELEASE, 1, key, owner)
