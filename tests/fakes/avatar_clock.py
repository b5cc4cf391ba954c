"""A virtual clock for the running asyncio loop: sleeps return at once, time jumps ahead."""

from __future__ import annotations

import asyncio
from typing import Any


class VirtualClock:
    """Patches the loop's ``time`` and its selector, the technique aiotools' VirtualClock uses.

    When the loop would wait for a timer, time jumps to it instead. Waits on threads or sockets
    with no timer pending still happen in real time; ``advance`` adds real work done inline.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._select: Any = None

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        selector: Any = loop._selector  # type: ignore[attr-defined]
        real_select = selector.select
        self._loop, self._select = loop, real_select

        def select(timeout: float | None = None) -> Any:
            events = real_select(0)
            if events:
                return events
            if timeout is None:
                return real_select(None)
            if timeout > 0:
                self.now += timeout
            return events

        selector.select = select
        loop.time = lambda: self.now  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._loop is None:
            return
        selector: Any = self._loop._selector  # type: ignore[attr-defined]
        selector.select = self._select
        del self._loop.time
        self._loop = None
