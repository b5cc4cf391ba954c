"""A sink that records what a connector hands over, for tests of connectors alone."""

from __future__ import annotations

from assistant.connectors.base import PlatformActivity, PlatformMessage
from tests.waits import Changes


class RecordingSink(Changes):
    """Keeps every message, activity, frame, connect and drop; ``until`` waits on a change."""

    def __init__(self) -> None:
        self.messages: list[PlatformMessage] = []
        self.activities: list[PlatformActivity] = []
        self.frames: list[bytes] = []
        self.connects: list[str] = []
        self.drops: list[str] = []
        super().__init__()

    async def chat(self, message: PlatformMessage) -> None:
        self.messages.append(message)
        self.touch()

    async def activity(self, activity: PlatformActivity) -> None:
        self.activities.append(activity)
        self.touch()

    async def frame(self, data: bytes) -> None:
        self.frames.append(data)
        self.touch()

    def connected(self, detail: str = "") -> None:
        self.connects.append(detail)
        self.touch()

    def dropped(self, reason: str) -> None:
        self.drops.append(reason)
        self.touch()
