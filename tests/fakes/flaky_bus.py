"""An in-process bus whose backend can be switched off, for tests of what rides out an outage."""

from __future__ import annotations

from assistant.bus import BusUnavailable
from assistant.bus.memory import MemoryBus
from assistant.events import Event


class FlakyBus(MemoryBus):
    """``down = True`` makes every send fail the way an unreachable Redis does."""

    def __init__(self, **kwargs: int | float) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.down = False
        self.attempts = 0

    async def _send(self, event: Event) -> None:
        self.attempts += 1
        if self.down:
            raise BusUnavailable("backend unreachable (test)")
        await super()._send(event)

    async def ping(self) -> None:
        if self.down:
            raise BusUnavailable("backend unreachable (test)")
