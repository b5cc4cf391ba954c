"""Background loops that restart with backoff when they fail, and the health they report."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

log = logging.getLogger(__name__)

# A loop that failed within this many seconds makes its room and capability "degraded".
DEGRADED_FOR_S = 60.0


class LoopState(BaseModel):
    """What the room's health panel shows about one supervised loop (``room_id`` None: a loop
    that serves every room, such as a vision worker)."""

    name: str
    capability: str
    room_id: str | None
    restarts: int = 0
    last_error: str | None = None
    last_failure: float | None = None
    degraded: bool = False


# Its own generator: jitter must not move the process's shared random state (seeded tests,
# property-based testing that watches it).
_JITTER = random.Random()


@dataclass(frozen=True)
class Backoff:
    """Exponential delays with full jitter, reset once a loop has run ``healthy_after_s``."""

    first_s: float = 0.1
    max_s: float = 2.0
    healthy_after_s: float = 30.0

    def delay(self, failures: int) -> float:
        return _JITTER.uniform(0, min(self.max_s, self.first_s * 2 ** max(0, failures - 1)))


class Supervisor:
    """Keeps the service's long-running loops going: a loop that raises is logged, counted and
    run again after a delay; a loop that returns is done; cancelling stops it for good."""

    def __init__(self, registry: CollectorRegistry, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()
        self.restarts = Counter(
            "lca_loop_restarts",
            "Background loops restarted after a failure",
            ["capability", "loop"],
            registry=registry,
        )
        self._loops: dict[str, LoopState] = {}

    async def run(
        self,
        loop: Callable[[], Awaitable[None]],
        *,
        name: str,
        capability: str,
        room_id: str | None = None,
    ) -> None:
        """Run ``loop()`` until it returns, again after each failure; the caller owns the task
        this runs in. ``name`` names the loop ("answers", "speaker"); with ``room_id`` the
        loop is reported in that room's health."""
        key = f"{capability}/{name}/{room_id or '-'}"
        state = self._loops.setdefault(
            key, LoopState(name=name, capability=capability, room_id=room_id)
        )
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started >= self.backoff.healthy_after_s:
                    failures = 0
                failures += 1
                state.restarts += 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:300]
                state.last_failure = time.time()
                self.restarts.labels(state.capability, state.name).inc()
                delay = self.backoff.delay(failures)
                log.warning(
                    "%s/%s failed in room %s (%s); restarting in %.2f s",
                    state.capability,
                    state.name,
                    state.room_id,
                    state.last_error,
                    delay,
                    exc_info=failures == 1,
                )
                await asyncio.sleep(delay)

    def report(self, room_id: str) -> list[LoopState]:
        """The loops of a room and those serving every room, each marked degraded when it
        failed in the last minute."""
        since = time.time() - DEGRADED_FOR_S
        return [
            s.model_copy(update={"degraded": (s.last_failure or 0.0) > since})
            for s in self._loops.values()
            if s.room_id in (room_id, None)
        ]
