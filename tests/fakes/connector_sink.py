"""A sink that records what a connector hands over, for tests of connectors alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from assistant.connectors.base import PlatformActivity, PlatformMessage


class RecordingSink:
    """Keeps every message, activity, frame, connect and drop; ``until`` waits on a change."""

    def __init__(self) -> None:
        self.messages: list[PlatformMessage] = []
        self.activities: list[PlatformActivity] = []
        self.frames: list[bytes] = []
        self.connects: list[str] = []
        self.drops: list[str] = []
        self._changed = asyncio.Event()

    def _touch(self) -> None:
        self._changed.set()

    async def chat(self, message: PlatformMessage) -> None:
        self.messages.append(message)
        self._touch()

    async def activity(self, activity: PlatformActivity) -> None:
        self.activities.append(activity)
        self._touch()

    async def frame(self, data: bytes) -> None:
        self.frames.append(data)
        self._touch()

    def connected(self, detail: str = "") -> None:
        self.connects.append(detail)
        self._touch()

    def dropped(self, reason: str) -> None:
        self.drops.append(reason)
        self._touch()

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Return once ``condition`` holds, woken by each change instead of polling."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()
