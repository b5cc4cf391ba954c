"""Waiting on a condition that other tasks, threads or processes make true (no blind sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], timeout: float = 10.0, poll: float = 0.01) -> None:
    """Return once ``condition()`` holds; fail after ``timeout`` seconds of loop time (virtual
    time under a virtual clock). ``poll``: how often state that nothing signals is looked at."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the state has no event of its own to wait on
            await asyncio.sleep(poll)


class Changes:
    """State that signals each change: ``until`` is woken by every ``touch`` instead of polling."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def touch(self) -> None:
        self._changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()
