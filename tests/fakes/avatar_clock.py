"""A virtual clock for the running asyncio loop: sleeps return at once, time jumps ahead."""

from __future__ import annotations

import asyncio
from typing import Any


class VirtualClock:
    """Patches the loop's ``time`` and its selector, the technique aiotools' VirtualClock uses.

    When the loop would wait for a timer, time jumps to it instead, unless work it handed to a
    thread is still running: then it waits in real time, so a disk write takes no virtual time
    rather than letting timers fire before it ends. ``advance`` adds real work done inline.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._select: Any = None
        self._in_threads = 0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        selector: Any = loop._selector  # type: ignore[attr-defined]
        real_select = selector.select
        real_executor = loop.run_in_executor
        self._loop, self._select = loop, real_select

        def run_in_executor(executor: Any, fn: Any, *args: Any) -> Any:
            future = real_executor(executor, fn, *args)
            self._in_threads += 1
            future.add_done_callback(self._thread_done)
            return future

        def select(timeout: float | None = None) -> Any:
            events = real_select(0)
            if events:
                return events
            if timeout is None or self._in_threads:
                return real_select(timeout)
            if timeout > 0:
                self.now += timeout
            return events

        selector.select = select
        loop.time = lambda: self.now  # type: ignore[method-assign]
        loop.run_in_executor = run_in_executor  # type: ignore[method-assign,assignment]

    def _thread_done(self, _: object) -> None:
        self._in_threads -= 1

    def uninstall(self) -> None:
        if self._loop is None:
            return
        selector: Any = self._loop._selector  # type: ignore[attr-defined]
        selector.select = self._select
        del self._loop.time
        del self._loop.run_in_executor
        self._loop = None
