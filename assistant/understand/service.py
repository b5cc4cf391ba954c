"""The understanding step for every room: catalog indexes, viewer memory, reads off the loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.catalog import Catalog
from assistant.embedders import Embedder, EmbedderPool
from assistant.errors import BackendUnavailable
from assistant.events import CatalogUpdated, Chat, Event
from assistant.understand.linker import CatalogIndex
from assistant.understand.reader import Context, Line, read
from assistant.understand.rules import intent_of
from assistant.understand.settings import UnderstandSettings
from assistant.understand.text import language_of
from assistant.understand.types import PRIORITY, Understanding

if TYPE_CHECKING:
    from assistant.bus import EventBus, Listener
    from assistant.plugins import RoomInfo, StageView

log = logging.getLogger(__name__)
VIEWERS_KEPT = 10_000
BATCH = 64


@dataclass
class _Room:
    index: CatalogIndex
    last: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)
    sub: Listener | None = None


class Understander:
    """Reads each accepted line once; triage carries the result on ``chat.triaged``."""

    def __init__(
        self, settings: UnderstandSettings, bus: EventBus, stage: StageView, pool: EmbedderPool
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.stage = stage
        self.pool = pool
        self.rooms: dict[str, _Room] = {}
        self._embedder: Embedder | None = None
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._waiting: list[_Waiting] = []
        self._drainer: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="understand")

    async def embedder(self) -> Embedder | None:
        """The shared embedder, loaded once; None (names and sounds only) when it cannot load."""
        async with self._load_lock:
            if not self._loaded and self.settings.embedder != "none":
                try:
                    self._embedder = await asyncio.to_thread(self.pool.get, self.settings.embedder)
                except BackendUnavailable as exc:
                    log.warning("chat understanding runs without meaning: %s", exc.message)
            self._loaded = True
        return self._embedder

    async def _index(self, catalog: Catalog) -> CatalogIndex:
        return await asyncio.to_thread(CatalogIndex, catalog, await self.embedder())

    async def open_room(self, info: RoomInfo) -> None:
        if info.room_id in self.rooms:
            return
        room = _Room(await self._index(info.catalog))
        self.rooms[info.room_id] = room
        room.sub = await self.bus.on(info.room_id, self._on_event, ["catalog.updated"])

    async def _on_event(self, event: Event) -> None:
        room = self.rooms.get(event.room_id)
        if room is not None and isinstance(event, CatalogUpdated):
            room.index = await self._index(event.catalog)

    def close(self) -> None:
        for room in self.rooms.values():
            if room.sub is not None:
                room.sub.close("understander closed")
        self.rooms.clear()
        if self._drainer is not None:
            self._drainer.cancel()
        for item in self._waiting:  # not yet accepted: the sender is told, nothing is lost
            if not item.future.done():
                item.future.set_exception(BackendUnavailable("the service is shutting down"))
        self._waiting.clear()
        self._pool.shutdown(wait=True)

    def _last(self, room: _Room, user_id: str, now: float) -> str | None:
        entry = room.last.get(user_id)
        if entry is None or now - entry[1] > self.settings.memory_s:
            return None
        return entry[0]

    def _remember(self, room: _Room, user_id: str, u: Understanding, now: float) -> None:
        if u.sku is None:
            return
        room.last[user_id] = (u.sku, now)
        room.last.move_to_end(user_id)
        while len(room.last) > VIEWERS_KEPT:
            room.last.popitem(last=False)

    async def read(self, chat: Chat) -> Understanding:
        """Understand one accepted line in its room, with the stage and this viewer's context.

        Lines wait for one worker that reads them in batches (one embedder call per batch) and
        in arrival order, so a connection's lines are committed and acknowledged in order.
        """
        room = self.rooms.get(chat.room_id)
        if room is None:
            intent = intent_of(chat.text) or "chitchat"
            return Understanding(
                language=language_of(chat.text), intent=intent, priority=PRIORITY[intent]
            )
        now = time.monotonic()
        ctx = Context(stage=self.stage.sku(chat.room_id), last=self._last(room, chat.user.id, now))
        index = room.index
        if not self._waiting and (self._drainer is None or self._drainer.done()):
            # Nothing ahead of this line: when the words settle it, no queue and no model.
            dry = index.deferring()
            u = read(Line.of(chat.text), dry, ctx)
            if not dry.wanted:
                self._remember(room, chat.user.id, u, now)
                return u
        if len(self._waiting) >= self.settings.max_pending:
            # A flood must not queue model work without bound: read by names and sounds alone.
            index = index.without_meaning()
        future: asyncio.Future[Understanding] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(chat.text, chat.user.id, ctx, index, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="understand")
        u = await future
        self._remember(room, chat.user.id, u, now)
        return u

    async def _drain(self) -> None:
        """Read waiting lines in arrival order. The rules and names run here, on the loop (a
        fraction of a millisecond a line); only lines that need the embedder wait for the
        worker thread, all of a batch in one call. A thread hop for every line cost 10x in
        GIL hand-overs on two cores."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
            try:
                results = await self._read_batch(loop, batch)
            except Exception as exc:  # the futures must not hang whatever went wrong
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            for item, u in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(u)

    async def _read_batch(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Waiting]
    ) -> list[Understanding]:
        groups: dict[int, list[int]] = {}
        for i, item in enumerate(batch):
            groups.setdefault(id(item.index), []).append(i)
        out: dict[int, Understanding] = {}
        for members in groups.values():
            index = batch[members[0]].index
            lines = [Line.of(batch[i].text) for i in members]
            dry = index.deferring()
            first = _read_in_order(batch, members, lines, dry)
            if not dry.wanted or index.embedder is None:
                out.update(first)  # nothing needed the model: the dry read is the reading
                continue
            try:
                await loop.run_in_executor(self._pool, index.embed, dry.wanted)
            except Exception:  # the model failed: read by names and sounds rather than not at all
                log.exception("the embedder failed; reading %d lines without meaning", len(lines))
                index = index.without_meaning()
            out.update(_read_in_order(batch, members, lines, index))
        return [out[i] for i in range(len(batch))]


@dataclass
class _Waiting:
    text: str
    user_id: str
    ctx: Context
    index: CatalogIndex
    future: asyncio.Future[Understanding]


def _read_in_order(
    batch: list[_Waiting], members: list[int], lines: list[Line], index: CatalogIndex
) -> list[tuple[int, Understanding]]:
    """Read a group's lines in order; a viewer's earlier line is the context of the next."""
    out: list[tuple[int, Understanding]] = []
    last: dict[str, str] = {}
    for i, line in zip(members, lines, strict=True):
        item = batch[i]
        ctx = item.ctx
        if item.user_id in last:
            ctx = Context(stage=ctx.stage, last=last[item.user_id])
        u = read(line, index, ctx)
        if u.sku is not None:
            last[item.user_id] = u.sku
        out.append((i, u))
    return out
