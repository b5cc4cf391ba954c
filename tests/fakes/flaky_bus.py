"""An in-process bus with a fake remote side that can be switched off, for outage tests."""

from __future__ import annotations

from assistant.bus import BusUnavailable
from assistant.bus.memory import MemoryBus
from assistant.events import Event


class FlakyBus(MemoryBus):
    """Events also go to ``remote`` (as if to other instances); ``down = True`` makes those
    sends fail the way an unreachable Redis does."""

    has_remote = True

    def __init__(self, **kwargs: int | float) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.down = False
        self.remote: list[Event] = []

    async def _send_batch(self, events: list[Event]) -> None:
        if self.down:
            raise BusUnavailable("backend unreachable (test)")
        self.remote.extend(events)

    async def ping(self) -> None:
        if self.down:
            raise BusUnavailable("backend unreachable (test)")
