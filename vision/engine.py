"""The shared inference engine: lazy models plus one bounded worker pool for HTTP and rooms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from vision.backends import Models
from vision.errors import Busy
from vision.settings import VisionSettings

T = TypeVar("T")


class VisionEngine:
    """Every model call goes through ``run``: the event loop never waits on inference."""

    def __init__(
        self, settings: VisionSettings, model_dir: Path, models: Models | None = None
    ) -> None:
        self.settings = settings
        self.models = models or Models(settings, model_dir)
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="vision")
        self._http_slots = asyncio.Semaphore(settings.http_max_pending)
        self._http_waiting = 0

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def run_http(self, fn: Callable[..., T], *args: object) -> T:
        """Like ``run`` but bounded: past ``http_max_pending`` waiting requests it refuses."""
        if self._http_waiting >= self.settings.http_max_pending:
            raise Busy("vision is busy; retry shortly")
        self._http_waiting += 1
        try:
            async with self._http_slots:
                return await self.run(fn, *args)
        finally:
            self._http_waiting -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
