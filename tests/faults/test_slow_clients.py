"""Sockets that never read: closed with 1013 once their bound is passed, while a viewer that
reads gets every line, in order, and the room goes on."""

from __future__ import annotations

from pathlib import Path

from tests.faults.stalled import stalled_sockets


async def test_sockets_that_never_read_are_closed_and_the_room_goes_on(tmp_path: Path) -> None:
    result = await stalled_sockets(tmp_path, stuck=200)
    assert result.lost == 0 and result.in_order
    assert result.evicted == result.stuck
