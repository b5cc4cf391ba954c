"""Redis Streams bus: XADD per room, XREAD for fan-out, consumer groups for shared work."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError, ResponseError

from assistant.bus.base import EventBus
from assistant.events import dump_event, parse_event

if TYPE_CHECKING:
    from assistant.events import Event

log = logging.getLogger(__name__)

_LOSSY_MAXLEN = 8


class RedisBus(EventBus):
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "lca",
        maxlen: int = 10_000,
        block_ms: int = 200,
        queue_size: int = 1024,
        slow_consumer_timeout: float = 5.0,
    ) -> None:
        super().__init__(queue_size=queue_size, slow_consumer_timeout=slow_consumer_timeout)
        # redis-py types replies as str-or-bytes unions; in bytes mode they are bytes.
        self._redis: Any = aioredis.from_url(url)
        self._prefix = prefix
        self._maxlen = maxlen
        self._block_ms = block_ms
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._positions: dict[str, str] = {}
        self._fanout: asyncio.Task[None] | None = None
        self._group_readers: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def _keys(self, room_id: str) -> tuple[str, str]:
        base = f"{self._prefix}:room:{room_id}"
        return base, f"{base}:lossy"

    async def ping(self) -> None:
        await self._redis.ping()

    async def _send(self, event: Event) -> None:
        lossless_key, lossy_key = self._keys(event.room_id)
        if event.lossy:
            key, maxlen = lossy_key, _LOSSY_MAXLEN
        else:
            key, maxlen = lossless_key, self._maxlen
        await self._redis.xadd(key, {"e": dump_event(event)}, maxlen=maxlen, approximate=True)

    async def _room_opened(self, room_id: str, group: str | None) -> None:
        for key in self._keys(room_id):
            if key not in self._positions:
                last = await self._redis.xrevrange(key, count=1)
                self._positions[key] = last[0][0].decode() if last else "0-0"
            if group is not None:
                try:
                    await self._redis.xgroup_create(key, group, id="$", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
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

    async def _fan_out_loop(self) -> None:
        while not self._closing:
            if not self._positions:
                await asyncio.sleep(self._block_ms / 1000)
                continue
            try:
                reply = await self._redis.xread(
                    dict(self._positions), count=256, block=self._block_ms
                )
            except RedisError:
                log.exception("redis fan-out read failed; retrying")
                await asyncio.sleep(1)
                continue
            for raw_key, entries in reply or []:
                key = raw_key.decode()
                for entry_id, fields in entries:
                    if key not in self._positions:
                        break
                    self._positions[key] = entry_id.decode()
                    event = self._decode(fields)
                    if event is not None:
                        await self._fan_out(event)

    async def _group_loop(self, group: str) -> None:
        while not self._closing:
            rooms = [room for room in self.rooms() if group in self._groups(room)]
            if not rooms:
                await asyncio.sleep(self._block_ms / 1000)
                continue
            streams = {key: ">" for room in rooms for key in self._keys(room)}
            try:
                reply = await self._redis.xreadgroup(
                    group, self._consumer, streams, count=64, block=self._block_ms
                )
            except RedisError:
                log.exception("redis group %s read failed; retrying", group)
                await asyncio.sleep(1)
                continue
            for raw_key, entries in reply or []:
                for entry_id, fields in entries:
                    event = self._decode(fields)
                    if event is not None and not await self._to_group(event, group):
                        log.warning("no local member of %s for %s", group, event.type)
                    await self._redis.xack(raw_key, group, entry_id)
