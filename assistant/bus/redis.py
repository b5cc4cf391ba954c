"""Redis Streams bus: XADD per room, XREAD for fan-out, consumer groups for shared work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError, ResponseError

from assistant.bus import leases
from assistant.bus.base import BusUnavailable, EventBus
from assistant.events import BusGap, dump_event, parse_event

if TYPE_CHECKING:
    from assistant.events import Event
    from assistant.settings import BusSettings

log = logging.getLogger(__name__)

_LOSSY_MAXLEN = 8
_READ_COUNT = 256
# Errors that mean "Redis cannot be reached now": retried with backoff, never fatal.
_DOWN = (RedisError, OSError, TimeoutError)


def _id(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class _Outage:
    """Backoff with jitter for one read loop, logging once per outage rather than per try."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failures = 0

    async def failed(self, exc: BaseException) -> None:
        if self.failures == 0:
            log.warning("redis %s failed (%s); retrying with backoff", self.what, exc)
        self.failures += 1
        await asyncio.sleep(random.uniform(0, min(1.0, 0.05 * 2**self.failures)))

    def ok(self) -> bool:
        """Record a success; True if it ends an outage."""
        ended, self.failures = self.failures > 0, 0
        if ended:
            log.info("redis %s back", self.what)
        return ended


class RedisBus(EventBus):
    name = "redis"
    has_remote = True

    def __init__(self, settings: BusSettings) -> None:
        super().__init__(
            queue_size=settings.queue_size,
            slow_consumer_timeout=settings.slow_consumer_timeout,
            outbox_size=settings.outbox_size,
        )
        # redis-py types replies as str-or-bytes unions; in bytes mode they are bytes. The
        # timeouts make a stopped (or SIGSTOPped) Redis an error within seconds, not a hang.
        self._redis: Any = aioredis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
            health_check_interval=30,
        )
        self._prefix = settings.redis_prefix
        self._maxlen = settings.redis_maxlen
        self._block_ms = min(200, int(settings.redis_timeout_s * 500))
        self._claim_every_s = settings.redis_claim_every_s
        self._claim_idle_ms = int(settings.redis_claim_idle_s * 1000)
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._origin = self._consumer.encode()
        # The last id read per stream; None until it is known (Redis was down at open).
        self._positions: dict[str, str | None] = {}
        self._fanout: asyncio.Task[None] | None = None
        self._group_readers: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def _keys(self, room_id: str) -> tuple[str, str]:
        base = f"{self._prefix}:room:{room_id}"
        return base, f"{base}:lossy"

    async def ping(self) -> None:
        await self._redis.ping()

    async def hold(self, key: str, owner: str, ttl_s: float) -> bool:
        try:
            return await leases.hold(self._redis, f"{self._prefix}:lease:{key}", owner, ttl_s)
        except _DOWN as exc:
            raise BusUnavailable(f"redis unreachable: {exc}") from exc

    async def release(self, key: str, owner: str) -> None:
        try:
            await leases.release(self._redis, f"{self._prefix}:lease:{key}", owner)
        except _DOWN as exc:
            raise BusUnavailable(f"redis unreachable: {exc}") from exc

    async def _send_batch(self, events: list[Event]) -> None:
        # This instance's readers had them at publish (``_local``); our fan-out reader skips
        # entries of our own origin (``o``). One round trip for the whole batch.
        pipe = self._redis.pipeline(transaction=False)
        for event in events:
            lossless_key, lossy_key = self._keys(event.room_id)
            key, maxlen = (
                (lossy_key, _LOSSY_MAXLEN) if event.lossy else (lossless_key, self._maxlen)
            )
            fields = {"e": dump_event(event), "o": self._consumer}
            pipe.xadd(key, fields, maxlen=maxlen, approximate=True)
        try:
            await pipe.execute()
        except _DOWN as exc:
            raise BusUnavailable(f"redis unreachable: {exc}") from exc

    async def _room_opened(self, room_id: str, group: str | None) -> None:
        for key in self._keys(room_id):
            if self._positions.get(key) is None:
                # From the end as it is now, so everything published after subscribe arrives.
                self._positions[key] = None
                with contextlib.suppress(*_DOWN):
                    last = await self._redis.xrevrange(key, count=1)
                    self._positions[key] = last[0][0].decode() if last else "0-0"
        if group is not None:
            try:
                await self._create_groups(group, [room_id])
            except _DOWN:
                log.warning("redis down: group %s of room %s is created later", group, room_id)
        if self._fanout is None or self._fanout.done():
            self._fanout = self._tasks.spawn(self._fan_out_loop(), "redis-fanout")
        if group is not None and group not in self._group_readers:
            self._group_readers[group] = self._tasks.spawn(
                self._group_loop(group), f"redis-{group}"
            )

    def _room_closed(self, room_id: str) -> None:
        for key in self._keys(room_id):
            self._positions.pop(key, None)

    async def close(self) -> None:
        # redis-py can turn a cancelled blocking read into a connection error, which the read
        # loops retry; the flag makes them exit whichever way the cancellation surfaces.
        self._closing = True
        await super().close()
        await self._redis.aclose()

    @staticmethod
    def _decode(fields: dict[bytes, bytes]) -> Event | None:
        try:
            return parse_event(fields[b"e"])
        except (KeyError, ValidationError):
            log.warning("skipping a malformed entry on the redis bus")
            return None

    # -- fan-out -------------------------------------------------------------------------------

    async def _check_positions(self) -> None:
        """Learn unknown positions; after an outage (or a full read), find entries that are
        gone unread: trimmed while we fell behind, or lost with Redis's data. Reading goes on
        from the oldest entry there is, and the room's readers get a ``bus.gap``."""
        for key, position in list(self._positions.items()):
            first = await self._redis.xrange(key, count=1)
            if key not in self._positions:
                continue
            if position is None:
                last = await self._redis.xrevrange(key, count=1)
                self._positions[key] = last[0][0].decode() if last else "0-0"
            elif position != "0-0" and (not first or _id(first[0][0]) > _id(position)):
                self._positions[key] = "0-0"
                await self._gap(key, position, first[0][0].decode() if first else "0-0")

    async def _trimmed(self, key: str, position: str, resumed_at: str) -> None:
        # The entry we read last is trimmed away, so entries after it may be too.
        first = await self._redis.xrange(key, count=1)
        if position != "0-0" and first and _id(first[0][0]) > _id(position):
            await self._gap(key, position, resumed_at)

    async def _gap(self, key: str, missed_after: str, resumed_at: str) -> None:
        self.gaps += 1
        room_id = key.removeprefix(f"{self._prefix}:room:").removesuffix(":lossy")
        log.warning("redis stream %s: entries after %s were trimmed unread", key, missed_after)
        if not key.endswith(":lossy"):
            gap = BusGap(room_id=room_id, missed_after=missed_after, resumed_at=resumed_at)
            await self._fan_out(gap)

    async def _fan_out_loop(self) -> None:
        outage = _Outage("fan-out read")
        check = True
        while not self._closing:
            if not self._positions:
                await asyncio.sleep(self._block_ms / 1000)
                continue
            try:
                if check or None in self._positions.values():
                    await self._check_positions()
                    check = False
                streams = {k: v for k, v in self._positions.items() if v is not None}
                reply = await self._redis.xread(streams, count=_READ_COUNT, block=self._block_ms)
            except _DOWN as exc:
                await outage.failed(exc)
                continue
            check = outage.ok()
            for raw_key, entries in reply or []:
                key = raw_key.decode()
                before = self._positions.get(key)
                if len(entries) == _READ_COUNT and before is not None:
                    # Behind by a whole batch: the stream may have been trimmed past us.
                    try:
                        await self._trimmed(key, before, entries[0][0].decode())
                    except _DOWN as exc:
                        await outage.failed(exc)
                for entry_id, fields in entries:
                    if key not in self._positions:
                        break
                    self._positions[key] = entry_id.decode()
                    if fields.get(b"o") == self._origin:
                        continue  # published here: our readers had it when it was sent
                    event = self._decode(fields)
                    if event is not None:
                        await self._fan_out(event)

    # -- consumer groups -----------------------------------------------------------------------

    def _group_rooms(self, group: str) -> list[str]:
        return [room for room in self.rooms() if group in self._groups(room)]

    async def _create_groups(self, group: str, rooms: list[str], start: str = "$") -> None:
        """A new group starts at the stream's end; one created again after Redis lost it
        (``start="0"``) reads everything the new stream holds."""
        for room in rooms:
            for key in self._keys(room):
                try:
                    await self._redis.xgroup_create(key, group, id=start, mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise

    async def _group_loop(self, group: str) -> None:
        outage = _Outage(f"group {group} read")
        next_claim = time.monotonic() + self._claim_every_s
        while not self._closing:
            rooms = self._group_rooms(group)
            if not rooms:
                await asyncio.sleep(self._block_ms / 1000)
                continue
            streams = {key: ">" for room in rooms for key in self._keys(room)}
            try:
                if outage.failures:
                    await self._create_groups(group, rooms, start="0")  # Redis may have lost them
                if time.monotonic() >= next_claim:
                    next_claim = time.monotonic() + self._claim_every_s
                    for key in streams:
                        await self._claim(group, key)
                reply = await self._redis.xreadgroup(
                    group, self._consumer, streams, count=64, block=self._block_ms
                )
                for raw_key, entries in reply or []:
                    await self._deliver(group, raw_key, entries)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    await outage.failed(exc)
                    continue
                log.warning("redis lost group %s; creating it again", group)
                await self._recreate(group, rooms, outage)
                continue
            except _DOWN as exc:
                await outage.failed(exc)
                continue
            outage.ok()

    async def _recreate(self, group: str, rooms: list[str], outage: _Outage) -> None:
        try:
            await self._create_groups(group, rooms, start="0")
        except _DOWN as exc:
            await outage.failed(exc)

    async def _claim(self, group: str, key: str) -> None:
        """Take over entries another consumer read and never acknowledged (it died)."""
        reply = await self._redis.xautoclaim(
            key, group, self._consumer, self._claim_idle_ms, start_id="0-0", count=64
        )
        entries = [(entry_id, fields) for entry_id, fields in reply[1] if fields]
        if entries:
            log.info("claimed %d entries of %s from a consumer gone quiet", len(entries), key)
            await self._deliver(group, key.encode(), entries)

    async def _deliver(
        self, group: str, raw_key: bytes, entries: list[tuple[bytes, dict[bytes, bytes]]]
    ) -> None:
        for entry_id, fields in entries:
            event = self._decode(fields)
            if event is not None and not await self._to_group(event, group):
                log.debug("no local member of %s for %s", group, event.type)
            await self._redis.xack(raw_key, group, entry_id)
