"""Subscriptions and dispatch shared by every bus backend; backends only move bytes."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from assistant.errors import AssistantError
from assistant.tasks import TaskSet

if TYPE_CHECKING:
    from assistant.events import Event

log = logging.getLogger(__name__)

Handler = Callable[["Event"], Awaitable[None]]


class SubscriptionClosed(AssistantError):
    code = "subscription_closed"


class Subscription:
    """A bounded inbox: lossless events queue with backpressure, lossy ones keep the newest."""

    def __init__(
        self,
        bus: EventBus,
        room_id: str,
        types: frozenset[str] | None,
        maxsize: int,
        group: str | None,
    ) -> None:
        self.bus = bus
        self.room_id = room_id
        self.types = types
        self.group = group
        self.close_reason: str | None = None
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._latest: dict[str, Event] = {}
        self._wake = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self.close_reason is not None

    def depth(self) -> int:
        return self._queue.qsize() + len(self._latest)

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types

    async def deliver(self, event: Event) -> None:
        if self.closed:
            return
        if event.lossy:
            self._latest[event.type] = event
        elif not self._queue.full():
            self._queue.put_nowait(event)
        else:
            try:
                async with asyncio.timeout(self.bus.slow_consumer_timeout):
                    await self._queue.put(event)
            except TimeoutError:
                log.warning("closing slow subscriber in room %s", self.room_id)
                self.close("slow_consumer")
                return
        self._wake.set()

    async def get(self) -> Event:
        while True:
            if self._latest:
                key = next(iter(self._latest))
                return self._latest.pop(key)
            if not self._queue.empty():
                return self._queue.get_nowait()
            if self.closed:
                raise SubscriptionClosed(self.close_reason or "closed")
            self._wake.clear()
            await self._wake.wait()

    def drain(self, limit: int) -> list[Event]:
        """Up to ``limit`` events that are already waiting, without waiting for more."""
        ready: list[Event] = []
        while self._latest and len(ready) < limit:
            ready.append(self._latest.pop(next(iter(self._latest))))
        while not self._queue.empty() and len(ready) < limit:
            ready.append(self._queue.get_nowait())
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
        self.bus.detach(self)


class EventBus:
    """Owns subscriptions, consumer groups and handler tasks; subclasses implement transport."""

    name = "base"

    def __init__(self, *, queue_size: int = 1024, slow_consumer_timeout: float = 5.0) -> None:
        self.queue_size = queue_size
        self.slow_consumer_timeout = slow_consumer_timeout
        self.published: Counter[str] = Counter()
        self._subs: dict[str, list[Subscription]] = {}
        self._rr = itertools.count()
        self._tasks = TaskSet()

    # -- transport hooks -----------------------------------------------------------------------

    async def _send(self, event: Event) -> None:
        raise NotImplementedError

    async def _room_opened(self, room_id: str, group: str | None) -> None:
        """Called when a room gets its first local subscriber (or first member of a group)."""

    def _room_closed(self, room_id: str) -> None:
        """Called when a room's last local subscriber goes away."""

    async def close(self) -> None:
        for sub in [s for subs in self._subs.values() for s in subs]:
            sub.close("bus closed")
        await self._tasks.cancel()

    # -- public API ----------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        if not event.room_id:
            raise ValueError("event has no room_id")
        self.published[event.type] += 1
        await self._send(event)

    async def subscribe(
        self,
        room_id: str,
        types: Iterable[str] | None = None,
        *,
        group: str | None = None,
        maxsize: int | None = None,
    ) -> Subscription:
        """Subscribe to a room; within a ``group`` each event reaches only one member."""
        sub = Subscription(
            self,
            room_id,
            frozenset(types) if types is not None else None,
            maxsize or self.queue_size,
            group,
        )
        existing = self._subs.setdefault(room_id, [])
        first_in_group = group is not None and not any(s.group == group for s in existing)
        existing.append(sub)
        if len(existing) == 1 or first_in_group:
            await self._room_opened(room_id, group)
        return sub

    async def on(
        self,
        room_id: str,
        handler: Handler,
        types: Iterable[str] | None = None,
        *,
        group: str | None = None,
    ) -> Subscription:
        """Run ``handler`` for each event in a task the bus owns; a raising handler is logged."""
        sub = await self.subscribe(room_id, types, group=group)
        self._tasks.spawn(self._run_handler(sub, handler), f"bus-handler-{room_id}")
        return sub

    def detach(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.room_id)
        if subs is None or sub not in subs:
            return
        subs.remove(sub)
        if not subs:
            del self._subs[sub.room_id]
            self._room_closed(sub.room_id)

    def depths(self) -> dict[str, int]:
        return {room: sum(s.depth() for s in subs) for room, subs in self._subs.items()}

    def rooms(self) -> list[str]:
        return list(self._subs)

    # -- dispatch, used by transports ----------------------------------------------------------

    async def _fan_out(self, event: Event) -> None:
        for sub in list(self._subs.get(event.room_id, ())):
            if sub.group is None and sub.wants(event):
                await sub.deliver(event)

    async def _to_group(self, event: Event, group: str) -> bool:
        members = [
            s for s in self._subs.get(event.room_id, ()) if s.group == group and s.wants(event)
        ]
        if not members:
            return False
        await members[next(self._rr) % len(members)].deliver(event)
        return True

    def _groups(self, room_id: str) -> set[str]:
        return {s.group for s in self._subs.get(room_id, ()) if s.group is not None}

    async def _run_handler(self, sub: Subscription, handler: Handler) -> None:
        async for event in sub:
            try:
                await handler(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("subscriber failed on %s in room %s", event.type, sub.room_id)
