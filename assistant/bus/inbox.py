"""Subscriber inboxes: bounded queues the publisher never waits on, and handler listeners."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.bus.base import EventBus
    from assistant.events import Event

log = logging.getLogger(__name__)

Handler = Callable[["Event"], Awaitable[None]]


class SubscriptionClosed(AssistantError):
    code = "subscription_closed"


class Subscription:
    """A bounded inbox the publisher never waits on: lossless events queue, lossy ones keep the
    newest of each type, and an inbox that stays over its bound is closed as a slow consumer."""

    def __init__(
        self,
        bus: EventBus,
        room_id: str,
        types: frozenset[str] | None,
        maxsize: int,
        group: str | None,
        max_bytes: int | None = None,
    ) -> None:
        self.bus = bus
        self.room_id = room_id
        self.types = types
        self.group = group
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.close_reason: str | None = None
        self._queue: deque[Event] = deque()
        self._bytes = 0
        self._latest: dict[str, Event] = {}
        self._wake = asyncio.Event()
        self._ended = asyncio.Event()
        self._over_since: float | None = None
        # Set by a reader that can take an event on the spot (a WebSocket writes it out):
        # offered while the reader waits on an empty inbox, an event skips the queue and the
        # reader's wake-up. Returns False when it cannot take it now (it is queued instead).
        self.direct: Callable[[Event], bool] | None = None
        self._waiting = False

    @property
    def closed(self) -> bool:
        return self.close_reason is not None

    def depth(self) -> int:
        return len(self._queue) + len(self._latest)

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types

    def _over(self, factor: int) -> bool:
        if len(self._queue) > factor * self.maxsize:
            return True
        return self.max_bytes is not None and self._bytes > factor * self.max_bytes

    def offer(self, event: Event) -> None:
        """Queue an event without waiting. Past its bound an inbox may hold up to twice as
        much for ``slow_consumer_timeout`` seconds; then, or beyond that, it is closed with
        reason ``slow_consumer`` rather than make the publisher (and every other reader) wait."""
        if self.closed:
            return
        if self._waiting and self.direct is not None and not self.depth() and self.direct(event):
            return  # its reader was idle with nothing queued: handed over as is
        if event.lossy:
            self._latest[event.type] = event
        else:
            self._queue.append(event)
            if self.max_bytes is not None:
                self._bytes += len(event.wire())
            if self._over(1):
                now = time.monotonic()
                self._over_since = self._over_since or now
                if self._over(2) or now - self._over_since >= self.bus.slow_consumer_timeout:
                    log.warning("closing slow subscriber in room %s", self.room_id)
                    self.bus.slow_consumers += 1
                    self.close("slow_consumer")
                    return
        self._wake.set()

    def _pop(self) -> Event:
        event = self._queue.popleft()
        if self.max_bytes is not None:
            self._bytes -= len(event.wire())
        if self._over_since is not None and not self._over(1):
            self._over_since = None
        return event

    async def get(self) -> Event:
        while True:
            if self._latest:
                key = next(iter(self._latest))
                return self._latest.pop(key)
            if self._queue:
                return self._pop()
            if self.closed:
                raise SubscriptionClosed(self.close_reason or "closed")
            self._wake.clear()
            self._waiting = True
            try:
                await self._wake.wait()
            finally:
                self._waiting = False

    def drain(self, limit: int) -> list[Event]:
        """Up to ``limit`` events that are already waiting, without waiting for more."""
        ready: list[Event] = []
        while self._latest and len(ready) < limit:
            ready.append(self._latest.pop(next(iter(self._latest))))
        while self._queue and len(ready) < limit:
            ready.append(self._pop())
        return ready

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.close_reason = reason
        self._wake.set()
        self._ended.set()
        self.bus.detach(self)

    async def wait_closed(self) -> str:
        """Wait until the inbox is closed (whatever its reader is doing); returns why."""
        await self._ended.wait()
        return self.close_reason or "closed"


class Listener:
    """A handler run on each event of a room in a task the bus owns. A handler that raises is
    logged and the next event goes on; an inbox closed as a slow consumer is opened again."""

    def __init__(self, bus: EventBus, sub: Subscription, handler: Handler) -> None:
        self.bus = bus
        self.sub = sub
        self.handler = handler
        self._closed = False

    async def run(self) -> None:
        while True:
            async for event in self.sub:
                try:
                    await self.handler(event)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception(
                        "subscriber failed on %s in room %s", event.type, self.sub.room_id
                    )
            if self._closed or self.sub.close_reason != "slow_consumer":
                return
            old = self.sub
            self.sub = await self.bus.subscribe(old.room_id, old.types, group=old.group)

    def close(self, reason: str = "closed") -> None:
        self._closed = True
        self.sub.close(reason)
