"""Subscriptions and dispatch shared by every bus backend; backends only move bytes."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from assistant.bus.inbox import Handler, Listener, Subscription
from assistant.errors import AssistantError
from assistant.seen import Seen
from assistant.supervise import Backoff
from assistant.tasks import TaskSet

if TYPE_CHECKING:
    from assistant.events import Event

log = logging.getLogger(__name__)
SEND_BATCH = 64
_RETRY = Backoff(first_s=0.1, max_s=1.0)


class BusUnavailable(AssistantError):
    """The bus backend cannot be reached, and its outbox is full or the call needs it now."""

    code = "bus_unavailable"
    status = 503


class EventBus:
    """Owns subscriptions, consumer groups and handler tasks; subclasses implement transport."""

    name = "base"

    def __init__(
        self,
        *,
        queue_size: int = 1024,
        slow_consumer_timeout: float = 5.0,
        outbox_size: int = 10_000,
    ) -> None:
        self.queue_size = queue_size
        self.slow_consumer_timeout = slow_consumer_timeout
        self.outbox_size = outbox_size
        self.dropped_while_down = 0
        self._outbox: deque[Event] = deque()
        # An event sent twice (a publish retried after a timeout that had in fact succeeded)
        # is dispatched once.
        self._fanned, self._grouped = Seen(), Seen()
        self._leases: dict[str, tuple[str, float]] = {}
        self._sender: asyncio.Task[None] | None = None
        self.unreachable_since: float | None = None  # set while sends fail
        self.published: Counter[str] = Counter()
        self.slow_consumers = 0
        self.gaps = 0  # times a backend found entries gone before this instance read them
        self._subs: dict[str, list[Subscription]] = {}
        self._rr = itertools.count()
        self._tasks = TaskSet()

    # -- transport hooks -----------------------------------------------------------------------

    # Whether events also travel to other instances (through ``_send_batch``).
    has_remote = False

    async def _local(self, event: Event) -> None:
        """Hand an event to this instance's subscribers, at once."""
        await self._fan_out(event)

    async def _send_batch(self, events: list[Event]) -> None:
        """Carry events to the other instances; raise ``BusUnavailable`` when it cannot."""
        raise NotImplementedError

    async def _room_opened(self, room_id: str, group: str | None) -> None:
        """Called when a room gets its first local subscriber (or first member of a group)."""

    def _room_closed(self, room_id: str) -> None:
        """Called when a room's last local subscriber goes away."""

    async def hold(self, key: str, owner: str, ttl_s: float) -> bool:
        """Take or renew a lease on ``key`` for ``owner`` (True), unless another owner holds
        it (False). Instances sharing a backend use it so that one of them runs a room's
        anchor; an in-process bus has one instance, so leases are kept here."""
        now = time.monotonic()
        holder = self._leases.get(key)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self._leases[key] = (owner, now + ttl_s)
        return True

    async def release(self, key: str, owner: str) -> None:
        """Give up a lease ``owner`` holds, so another instance need not wait for it to lapse."""
        if self._leases.get(key, ("", 0.0))[0] == owner:
            del self._leases[key]

    async def replay(self, event: Event) -> bool:
        """Hand an event this instance's readers may have missed to them again; False (and
        nothing sent) when they had it already."""
        return await self._fan_out(event)

    async def ping(self) -> None:
        """Raise when the backend cannot be reached (an in-process bus always can)."""

    async def close(self) -> None:
        for sub in [s for subs in self._subs.values() for s in subs]:
            sub.close("bus closed")
        await self._tasks.cancel()

    # -- public API ----------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Deliver an event to this instance's subscribers at once and queue it for the other
        instances; never waits on the backend. While the backend is down, lossless events wait
        in the bounded outbox, in order, and go out when it is back; lossy events and speech
        gone stale are dropped and counted. Only a full outbox refuses a lossless event
        (``BusUnavailable``), before anyone received it."""
        if not event.room_id:
            raise ValueError("event has no room_id")
        if self.has_remote and not event.lossy and not self.accepting():
            raise BusUnavailable("the bus is unreachable and its outbox is full")
        self.published[event.type] += 1
        await self._local(event)
        if not self.has_remote:
            return
        if len(self._outbox) >= self.outbox_size:  # lossy, and no room for it
            self.dropped_while_down += 1
            return
        self._outbox.append(event)
        if self._sender is None or self._sender.done():
            self._sender = self._tasks.spawn(self._send_loop(), "bus-sender")

    @property
    def backlogged(self) -> int:
        """Events waiting to be sent to the other instances."""
        return len(self._outbox)

    def accepting(self) -> bool:
        """Whether a lossless event published now would be kept (the outbox has room)."""
        return len(self._outbox) < self.outbox_size

    async def _send_loop(self) -> None:
        failures = 0
        while self._outbox:
            if failures:
                self._drop_while_down()
            batch = list(itertools.islice(self._outbox, SEND_BATCH))
            try:
                await self._send_batch(batch)
            except BusUnavailable as exc:
                if not failures:
                    log.warning("bus unavailable (%s); holding events until it is back", exc)
                self.unreachable_since = self.unreachable_since or time.time()
                failures += 1
                await asyncio.sleep(_RETRY.delay(failures))
                continue
            for _ in batch:
                self._outbox.popleft()
            if failures:
                log.info("bus back after %d failed sends", failures)
            failures, self.unreachable_since = 0, None

    def _drop_while_down(self) -> None:
        kept = deque(e for e in self._outbox if not (e.lossy or _stale(e)))
        self.dropped_while_down += len(self._outbox) - len(kept)
        self._outbox = kept

    async def subscribe(
        self,
        room_id: str,
        types: Iterable[str] | None = None,
        *,
        group: str | None = None,
        maxsize: int | None = None,
        max_bytes: int | None = None,
    ) -> Subscription:
        """Subscribe to a room; within a ``group`` each event reaches only one member.
        ``maxsize`` and ``max_bytes`` bound the inbox (see ``Subscription.offer``)."""
        sub = Subscription(
            self,
            room_id,
            frozenset(types) if types is not None else None,
            maxsize or self.queue_size,
            group,
            max_bytes,
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
    ) -> Listener:
        """Run ``handler`` for each event of the room (see ``Listener``)."""
        sub = await self.subscribe(room_id, types, group=group)
        listener = Listener(self, sub, handler)
        self._tasks.spawn(listener.run(), f"bus-handler-{room_id}")
        return listener

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

    async def _fan_out(self, event: Event) -> bool:
        """Offer an event to the room's readers; False when they had it already."""
        if not self._fanned.first(event.id):
            return False
        for sub in list(self._subs.get(event.room_id, ())):
            if sub.group is None and sub.wants(event):
                sub.offer(event)
        return True

    async def _to_group(self, event: Event, group: str) -> bool:
        members = [
            s for s in self._subs.get(event.room_id, ()) if s.group == group and s.wants(event)
        ]
        if not members:
            return False
        if not self._grouped.first(f"{group}/{event.id}"):
            return True
        members[next(self._rr) % len(members)].offer(event)
        return True

    def _groups(self, room_id: str) -> set[str]:
        return {s.group for s in self._subs.get(room_id, ()) if s.group is not None}


def _stale(event: Event) -> bool:
    return event.stale_after_s is not None and time.time() - event.ts > event.stale_after_s
