"""The listeners' playout clock: when queued audio plays, and silences over the limit."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avatar.metrics import AvatarMetrics

log = logging.getLogger(__name__)


class PlayClock:
    """Audio is sent ahead of time; this tracks when what was sent ends for a listener."""

    def __init__(self, room_id: str, metrics: AvatarMetrics, gap_limit_s: float) -> None:
        self.room_id, self.metrics, self.gap_limit_s = room_id, metrics, gap_limit_s
        self.end = 0.0
        self._started = False

    def ahead(self, now: float) -> float:
        """Seconds of audio still to play for listeners."""
        return self.end - now

    def account(self, duration: float, now: float) -> float:
        """Advance the clock; returns when this audio starts playing for listeners."""
        if self._started and now > self.end:
            gap = now - self.end
            self.metrics.gap.observe(gap)
            if gap > self.gap_limit_s:
                self.metrics.gaps_over_limit.inc()
                log.warning("anchor room %s fell silent for %.1fs", self.room_id, gap)
        start = max(now, self.end)
        self.end = start + duration
        self._started = True
        return start
