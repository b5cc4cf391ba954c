"""Signed viewer sessions and source limits, on their own and counted across instances in Redis."""

from __future__ import annotations

import uuid

import pytest

from assistant.access import Limiter, Sessions
from assistant.settings import BusSettings, LimitSettings


def test_a_session_vouches_for_its_viewer_in_its_room_only() -> None:
    sessions = Sessions("secret")
    user_id, session = sessions.issue("room-a")
    assert sessions.verify("room-a", session) == user_id
    assert sessions.verify("room-b", session) is None
    assert Sessions("another secret").verify("room-a", session) is None
    signature = session.rsplit(".", 1)[1]
    assert sessions.verify("room-a", f"someone-else.{signature}") is None
    assert sessions.verify("room-a", "") is None and sessions.verify("room-a", ".") is None


def test_issued_ids_are_fresh() -> None:
    sessions = Sessions("secret")
    assert len({sessions.issue("r")[0] for _ in range(200)}) == 200


async def test_every_window_of_a_limit_counts() -> None:
    limiter = Limiter(LimitSettings(), "")
    burst = [await limiter.allow("100/minute;3/second", "k") for _ in range(4)]
    assert burst == [True, True, True, False]
    assert await limiter.allow("100/minute;3/second", "other key")


def test_connection_slots_come_back() -> None:
    limiter = Limiter(LimitSettings(connections_per_address=2, connections_per_room=3), "")
    assert limiter.connect("1.2.3.4", "r") is None
    assert limiter.connect("1.2.3.4", "r") is None
    assert limiter.connect("1.2.3.4", "r") is not None  # the address is full
    assert limiter.connect("5.6.7.8", "r") is None
    assert limiter.connect("9.9.9.9", "r") is not None  # the room is full
    limiter.disconnect("1.2.3.4", "r")
    assert limiter.connect("9.9.9.9", "r") is None


@pytest.mark.redis
async def test_two_instances_count_one_source_together_in_redis() -> None:
    settings = LimitSettings(storage="redis")
    url = BusSettings().redis_url
    a, b = Limiter(settings, url), Limiter(settings, url)
    key = uuid.uuid4().hex
    try:
        seen = [await (a if i % 2 else b).allow("4/minute", "addr", key) for i in range(6)]
    finally:
        await a.close()
        await b.close()
    assert seen == [True] * 4 + [False] * 2
