"""Redis Streams bus: XADD per room, XREAD for fan-out, consumer groups for shared work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from assistant.bus import leases
from assistant.bus.base import EventBus
from assistant.bus.streams import (
    DOWN,
    Entries,
    Outage,
    probe,
    reachable,
    read_checked,
    stream_id,
    text,
)
from assistant.events import BusGap, dump_event, parse_event

if TYPE_CHECKING:
    from assistant.events import Event
    from assistant.settings import BusSettings

log = logging.getLogger(__name__)

_LOSSY_MAXLEN = 8
_READ_COUNT = 256


class RedisBus(EventBus):
    name = "redis"
    has_remote = True

    def __init__(self, settings: BusSettings) -> None:
        super().__init__(
            queue_size=settings.queue_size,
            slow_consumer_timeout=settings.slow_consumer_timeout,
            outbox_size=settings.outbox_size,
        )
        # The timeouts make a stopped (or SIGSTOPped) Redis an error within seconds, not a
        # hang. A command whose connection broke (Redis restarted) is sent again on a new one;
        # a timeout is not retried, so a frozen Redis costs one timeout per call.
        retry = Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=settings.redis_retry_cap_s),
            settings.redis_retries,
            supported_errors=(RedisConnectionError,),
        )
        # redis-py types replies as str-or-bytes unions; in bytes mode they are bytes.
        self._redis: Any = aioredis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_connect_timeout_s,
            health_check_interval=settings.redis_health_check_s,
            retry=retry,
        )
        self._prefix = settings.redis_prefix
        self._maxlen = settings.redis_maxlen
        # A reader the stream was trimmed past has at least ``maxlen`` entries to read, so a
        # read of this many comes back full: only then can entries have gone unread.
        self._count = min(_READ_COUNT, settings.redis_maxlen)
        self._block_ms = min(200, int(settings.redis_timeout_s * 500))
        self._backoff_cap = settings.redis_backoff_max_s
        self._check_every_s = settings.redis_check_every_s
        self._claim_every_s = settings.redis_claim_every_s
        self._claim_idle_ms = int(settings.redis_claim_idle_s * 1000)
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._origin = self._consumer.encode()
        # The last id read per stream; None until it is known (Redis was down at open).
        self._positions: dict[str, str | None] = {}
        # Lossless streams a read came back full for: read with a check until caught up.
        self._behind: set[str] = set()
        self._run_id: str | None = None  # of the Redis server our positions refer to
        self._fanout: asyncio.Task[None] | None = None
        self._group_readers: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def _keys(self, room_id: str) -> tuple[str, str]:
        base = f"{self._prefix}:room:{room_id}"
        return base, f"{base}:lossy"

    async def ping(self) -> None:
        with reachable():
            await self._redis.ping()

    async def hold(self, key: str, owner: str, ttl_s: float) -> bool:
        with reachable():
            return await leases.hold(self._redis, f"{self._prefix}:lease:{key}", owner, ttl_s)

    async def release(self, key: str, owner: str) -> None:
        with reachable():
            await leases.release(self._redis, f"{self._prefix}:lease:{key}", owner)

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
        with reachable():
            await pipe.execute()

    async def _room_opened(self, room_id: str, group: str | None) -> None:
        keys = [k for k in self._keys(room_id) if self._positions.get(k) is None]
        for key in keys:
            self._positions[key] = None  # the reader learns it if Redis is down now
        if keys:
            # From the end as it is now, so everything published after subscribe arrives.
            with contextlib.suppress(*DOWN):
                await self._check_positions(keys)
        if group is not None:
            try:
                await self._create_groups(group, [room_id])
            except DOWN:
                log.warning("redis down: group %s of room %s is created later", group, room_id)
        if self._fanout is None or self._fanout.done():
            self._fanout = self._tasks.spawn(self._fan_out_loop(), "redis-fanout")
        reader = self._group_readers.get(group or "")
        if group is not None and (reader is None or reader.done()):
            self._group_readers[group] = self._tasks.spawn(
                self._group_loop(group), f"redis-{group}"
            )

    def _room_closed(self, room_id: str) -> None:
        for key in self._keys(room_id):
            self._positions.pop(key, None)
            self._behind.discard(key)

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

    async def _check_positions(self, keys: list[str] | None = None) -> None:
        """Learn unknown positions, and notice a Redis that restarted (a new run id) or a
        stream that was deleted or made anew: entries may be lost, so the room's readers get
        a ``bus.gap``; a position past the stream's last entry starts again from its first."""
        everything = keys is None
        keys = list(self._positions) if keys is None else keys
        run_id, rows = await probe(self._redis, keys)
        restarted = self._run_id is not None and run_id != self._run_id
        if restarted and not everything:
            await self._check_positions()  # every stream of ours, not just these, may be lost
            return
        if restarted:
            log.warning("redis restarted (run id %s); checking what was lost", run_id)
        self._run_id = run_id
        for key, (first, last) in zip(keys, rows, strict=True):
            if key not in self._positions:
                continue  # the room closed meanwhile
            position = self._positions[key]
            if position is None:
                self._positions[key] = last
                continue
            if position == "0-0":
                continue
            # a stream made anew (or none at all) ends before our position
            behind_us = stream_id(last) < stream_id(position)
            if behind_us:
                self._positions[key] = "0-0"
            if restarted or behind_us:
                await self._gap(key, position, first)
        if restarted:
            self._behind.clear()  # what is there now is read from our positions

    async def _gap(self, key: str, missed_after: str, resumed_at: str) -> None:
        if key.endswith(":lossy"):
            return  # latest-wins events: a newer one replaces what was missed
        self.gaps += 1
        room_id = key.removeprefix(f"{self._prefix}:room:")
        log.warning("redis stream %s: entries after %s may be lost unread", key, missed_after)
        gap = BusGap(room_id=room_id, missed_after=missed_after, resumed_at=resumed_at)
        await self._fan_out(gap)

    async def _read_checked(self, key: str) -> None:
        """Read a stream we are behind on, atomically with a check that nothing between our
        position and what the read returns was trimmed away first."""
        position = self._positions.get(key)
        if position is None:
            return
        gone, entries = await read_checked(self._redis, key, position, self._count)
        if len(entries) < self._count:
            self._behind.discard(key)
        if gone and entries:
            await self._gap(key, position, entries[0][0].decode())
        await self._dispatch(key, entries)

    async def _dispatch(self, key: str, entries: Entries) -> None:
        for entry_id, fields in entries:
            if key not in self._positions:
                return  # the room closed meanwhile
            self._positions[key] = entry_id.decode()
            if fields.get(b"o") == self._origin:
                continue  # published here: our readers had it when it was sent
            event = self._decode(fields)
            if event is not None:
                await self._fan_out(event)

    async def _fan_out_loop(self) -> None:
        outage = Outage("fan-out read", self._backoff_cap)
        check, next_check = True, time.monotonic() + self._check_every_s
        while not self._closing:
            if not self._positions:
                await asyncio.sleep(self._block_ms / 1000)
                continue
            try:
                if time.monotonic() >= next_check:
                    # A Redis that restarted between two reads shows no error (redis-py
                    # reconnects), but its run id is new.
                    next_check = time.monotonic() + self._check_every_s
                    check = check or (await probe(self._redis, []))[0] != self._run_id
                if check or None in self._positions.values():
                    await self._check_positions()
                    check = False
                for key in [k for k in self._behind if k in self._positions]:
                    await self._read_checked(key)
                streams = {
                    k: v
                    for k, v in self._positions.items()
                    if v is not None and k not in self._behind
                }
                if not streams:
                    continue
                block = None if self._behind else self._block_ms
                reply = await self._redis.xread(streams, count=self._count, block=block)
                for raw_key, entries in reply or []:
                    key = raw_key.decode()
                    if len(entries) == self._count and not key.endswith(":lossy"):
                        self._behind.add(key)  # maybe trimmed past us: read it again, checked
                        continue
                    await self._dispatch(key, entries)
            except Exception as exc:  # a reader that dies stops the room
                await outage.failed(exc)
                continue
            if outage.ok():
                check = True  # Redis may have lost our streams, or trimmed past us

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
        outage = Outage(f"group {group} read", self._backoff_cap)
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
                # Redis restarted without its data (or the stream was deleted): the group
                # starts again from the new stream's first entry.
                log.warning("redis lost group %s; creating it again", group)
                try:
                    await self._create_groups(group, rooms, start="0")
                except Exception as again:  # retried with backoff
                    await outage.failed(again)
                continue
            except Exception as exc:  # a reader that dies stops the group
                await outage.failed(exc)
                continue
            outage.ok()

    async def _claim(self, group: str, key: str) -> None:
        """Take over entries another consumer read and never acknowledged (it died)."""
        cursor = "0-0"
        for _ in range(16):  # at most 16 x 64 entries a round; the rest the next one
            reply = await self._redis.xautoclaim(
                key, group, self._consumer, self._claim_idle_ms, start_id=cursor, count=64
            )
            entries = [(entry_id, fields) for entry_id, fields in reply[1] if fields]
            if entries:
                log.info("claimed %d entries of %s from a consumer gone quiet", len(entries), key)
                await self._deliver(group, key.encode(), entries)
            cursor = text(reply[0])
            if cursor == "0-0":
                return

    async def _deliver(self, group: str, raw_key: bytes, entries: Entries) -> None:
        for _entry_id, fields in entries:
            event = self._decode(fields)
            if event is not None and not await self._to_group(event, group):
                log.debug("no local member of %s for %s", group, event.type)
        if entries:
            await self._redis.xack(raw_key, group, *(entry_id for entry_id, _ in entries))
