"""Chat triage: rate limit, spam, understanding, dedupe in context, a bounded priority backlog."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.bus import BusUnavailable, EventBus
from assistant.errors import RateLimited
from assistant.events import Answer, Chat, ChatAccepted, ChatSkipped, ChatTriaged, Event
from assistant.settings import TriageSettings
from assistant.store import ChatStatus, Lease, Store
from assistant.text import bigrams, normalise
from assistant.understand.rules import is_spam
from assistant.understand.service import Understander

_MAX_BUCKETS = 50_000
log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class _Entry:
    priority: float
    ts: float
    item: ChatTriaged

    @classmethod
    def of(cls, item: ChatTriaged) -> _Entry:
        return cls(item.priority, item.chat.ts, item)

    def next_key(self) -> tuple[float, float]:
        return (self.priority, -self.ts)

    def evict_key(self) -> tuple[float, float]:
        return (self.priority, self.ts)


@dataclass
class _Recent:
    chat_id: str
    grams: frozenset[str]
    # The products the line was about: "这个多少钱" asked under two stage products is two
    # questions, however alike the words.
    skus: tuple[str, ...]
    ts: float
    status: ChatStatus = "queued"
    answer: str | None = None


@dataclass
class _Room:
    backlog: list[_Entry] = field(default_factory=list)
    recent: deque[_Recent] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Triage:
    """Turns accepted chat into a ranked backlog that the answerer pulls from (Backlog)."""

    def __init__(
        self,
        settings: TriageSettings,
        store: Store,
        bus: EventBus,
        understander: Understander,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: seconds for rate limits and the duplicate window; ``wall``: the time
        leases are written in, which instances on other machines read too (tests pass their
        own of both)."""
        self.clock = clock
        self.wall = wall
        self.settings = settings
        self.store = store
        self.bus = bus
        self.understander = understander
        self.skipped: dict[str, int] = {}
        self.owner = uuid.uuid4().hex  # this instance, as the holder of its queued lines
        self._rooms: dict[str, _Room] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _room(self, room_id: str) -> _Room:
        return self._rooms.setdefault(room_id, _Room())

    def backlog_sizes(self) -> dict[str, int]:
        return {room_id: len(room.backlog) for room_id, room in self._rooms.items()}

    def _allow(self, room_id: str, user_id: str, now: float) -> bool:
        rate = self.settings.rate_per_minute / 60.0
        if len(self._buckets) > _MAX_BUCKETS:
            # A flood of throwaway viewer ids must not grow memory: a bucket idle long enough
            # to have refilled is the same as no bucket.
            idle = self.settings.burst / rate
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < idle}
        bucket = self._buckets.get((room_id, user_id))
        if bucket is None:
            bucket = self._buckets[(room_id, user_id)] = _Bucket(self.settings.burst, now)
        bucket.tokens = min(self.settings.burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _duplicate_of(
        self, room: _Room, grams: frozenset[str], skus: tuple[str, ...], now: float
    ) -> _Recent | None:
        # Compare against a bounded window of recent questions so a flood costs O(1) per line;
        # the Jaccard test is inlined because this loop is the hottest code on the chat path.
        horizon = now - self.settings.dedupe_window_s
        while room.recent and room.recent[0].ts < horizon:
            room.recent.popleft()
        threshold = self.settings.dedupe_similarity
        size = len(grams)
        for recent in reversed(room.recent):
            shared = len(grams & recent.grams)
            if (
                shared
                and recent.status != "skipped"
                and recent.skus == skus
                and (shared >= threshold * (size + len(recent.grams) - shared))
            ):
                return recent
        return None

    async def ingest(self, chat: Chat) -> ChatAccepted:
        """Persist one chat line and rank it; raises RateLimited (or BusUnavailable, when the
        bus is down and its outbox full) before anything is accepted."""
        now = self.clock()
        if chat.role == "viewer" and not self._allow(chat.room_id, chat.user.id, now):
            raise RateLimited("too many messages; slow down")
        if not self.bus.accepting():
            raise BusUnavailable("the room cannot take chat right now; retry shortly")
        if chat.role != "viewer":
            await self.store.add_chat(chat, "skipped", reason="staff_message")
            await self._announce(chat)
            return self._ack(chat, "skipped", "staff_message")
        if is_spam(chat.text):
            await self.store.add_chat(chat, "skipped", reason="spam", intent="spam")
            await self._count_skip(chat.room_id, chat.id, "spam")
            return self._ack(chat, "skipped", "spam")
        understood = await self.understander.read(chat)
        room = self._room(chat.room_id)
        grams = bigrams(normalise(chat.text))
        skus = tuple(understood.skus)
        first = self._duplicate_of(room, grams, skus, now)
        if first is not None:
            # One write: the line, its link and (when the first is answered) its answer.
            await self.store.add_chat(
                chat,
                first.status,
                dup_of=first.chat_id,
                priority=understood.priority,
                intent=understood.intent,
                answer=first.answer,
            )
            await self._announce(chat)
            # The host sees the link at once; the sender gets the same ack as its reply.
            await self._announce(
                ChatAccepted(
                    room_id=chat.room_id, chat_id=chat.id, status=first.status, dup_of=first.chat_id
                )
            )
            if first.answer is not None:
                await self._announce(
                    Answer(
                        room_id=chat.room_id,
                        chat_id=chat.id,
                        text=first.answer,
                        question=chat.text,
                        user_ids=[chat.user.id],
                    )
                )
            return self._ack(chat, first.status, None, dup_of=first.chat_id)
        await self.store.add_chat(
            chat,
            "queued",
            priority=understood.priority,
            intent=understood.intent,
            lease=self._lease(),
        )
        room.recent.append(_Recent(chat.id, grams, skus, now))
        if len(room.recent) > self.settings.dedupe_recent:
            room.recent.popleft()
        await self._announce(chat)
        await self._enqueue(ChatTriaged(room_id=chat.room_id, chat=chat, understanding=understood))
        return self._ack(chat, "queued", None)

    @staticmethod
    def _ack(
        chat: Chat, status: ChatStatus, reason: str | None, dup_of: str | None = None
    ) -> ChatAccepted:
        return ChatAccepted(
            room_id=chat.room_id,
            chat_id=chat.id,
            status=status,
            reason=reason,
            dup_of=dup_of,
            target_user=chat.user.id,
        )

    async def _announce(self, event: Event) -> None:
        """Publish what follows a commit. The line is durable and the backlog local, so a bus
        that cannot take the notice (down, outbox full) costs the notice, never the line."""
        try:
            await self.bus.publish(event)
        except BusUnavailable:
            log.warning("bus full: %s for room %s not published", event.type, event.room_id)

    async def _enqueue(self, item: ChatTriaged) -> None:
        room = self._room(item.room_id)
        entry = _Entry.of(item)
        if len(room.backlog) >= self.settings.backlog_size:
            lowest = min(room.backlog, key=_Entry.evict_key)
            if item.priority < lowest.priority:
                await self.resolve(item.room_id, item.chat.id, "skipped", reason="backlog")
                return
            room.backlog.remove(lowest)
            await self.resolve(item.room_id, lowest.item.chat.id, "skipped", reason="backlog")
        room.backlog.append(entry)
        room.wake.set()
        await self._announce(item)

    def _lease(self) -> Lease:
        return Lease(owner=self.owner, until=self.wall() + self.settings.lease_s)

    async def restore(self, room_id: str) -> int:
        """Take over a room's queued questions nobody holds (after a restart, or from an
        instance that died); returns how many came back."""
        records = await self.store.claim(room_id, self._lease(), self.wall())
        for record in records:
            understood = await self.understander.read(record.chat)
            await self._enqueue(
                ChatTriaged(room_id=room_id, chat=record.chat, understanding=understood)
            )
        return len(records)

    async def keep_leases(self) -> None:
        """Renew this instance's hold on its queued questions, and take over those whose
        holder stopped renewing, in every room this instance serves."""
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            await self.store.renew(self._lease())
            for room_id in list(self._rooms):
                if await self.restore(room_id):
                    log.warning("took over queued questions of room %s", room_id)

    async def release(self) -> None:
        """At a clean stop: the questions still queued here may be taken at once."""
        await self.store.release(self.owner)

    async def next(self, room_id: str) -> ChatTriaged:
        room = self._room(room_id)
        while not room.backlog:
            room.wake.clear()
            await room.wake.wait()
        best = max(room.backlog, key=_Entry.next_key)
        room.backlog.remove(best)
        return best.item

    def requeue(self, item: ChatTriaged) -> None:
        room = self._room(item.room_id)
        room.backlog.append(_Entry.of(item))
        room.wake.set()

    async def resolve(
        self,
        room_id: str,
        chat_id: str,
        status: ChatStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
    ) -> bool:
        """Store how a question ended; False, and nothing told, if another instance took it
        over meanwhile (this one stalled past its lease): that one answers it."""
        if not await self.store.set_chat_status(
            chat_id, status, reason=reason, answer=answer, owner=self.owner
        ):
            log.warning("question %s was taken over by another instance", chat_id)
            return False
        for recent in self._room(room_id).recent:
            if recent.chat_id == chat_id:
                recent.status, recent.answer = status, answer
        if status == "skipped":
            await self._count_skip(room_id, chat_id, reason or "unspecified")
        else:
            await self._announce(
                ChatAccepted(room_id=room_id, chat_id=chat_id, status=status, reason=reason)
            )
        return True

    async def _count_skip(self, room_id: str, chat_id: str, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        await self._announce(ChatSkipped(room_id=room_id, chat_id=chat_id, reason=reason))
