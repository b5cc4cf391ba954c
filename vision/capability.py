"""The vision capability: HTTP router plus a fair, latest-wins frame pipeline per room."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from assistant.catalog import Product
from assistant.events import CatalogUpdated, Event, Frame, StageChanged
from vision.api import VisionAccess, build_router
from vision.backends import Models
from vision.engine import VisionEngine
from vision.errors import VisionError
from vision.matcher import CatalogMatcher
from vision.room import RoomState, run_pass
from vision.settings import VisionSettings

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.bus import Listener
    from assistant.plugins import RoomInfo, Services

log = logging.getLogger(__name__)


class VisionCapability:
    name = "vision"

    def __init__(
        self,
        services: Services,
        settings: VisionSettings | None = None,
        models: Models | None = None,
    ) -> None:
        self.services = services
        root = services.settings
        self.settings = settings or root.vision
        model_dir = self.settings.resolve_model_dir(root.model_dir)
        self.engine = VisionEngine(self.settings, model_dir, models)
        self.rooms: dict[str, RoomState] = {}
        self._ready: deque[str] = deque()
        self._wake = asyncio.Event()
        self._subs: list[Listener] = []
        self._workers: list[asyncio.Task[None]] = []
        reg = services.registry
        self.passes = Counter("vision_passes", "frame passes published", registry=reg)
        self.dropped = Counter("vision_frames_replaced", "frames superseded", registry=reg)
        self.failed = Counter("vision_pass_failures", "frames that failed", registry=reg)
        self.latency = Histogram("vision_pass_seconds", "one frame pass", registry=reg)

    def router(self) -> APIRouter:
        access = VisionAccess(self.settings, self.services.store, self.services.limiter)
        return build_router(self.engine, access)

    async def open_room(self, room: RoomInfo) -> None:
        if room.room_id in self.rooms:
            return
        state = RoomState(room.room_id, self.settings.stable_passes)
        stage = self.services.stage.current(room.room_id)
        if stage is not None:
            state.follow(stage)
        self.rooms[room.room_id] = state
        await self._set_catalog(state, room.catalog.products)
        bus = self.services.bus
        on_frame = functools.partial(self._on_frame, state)
        on_control = functools.partial(self._on_control, state)
        self._subs += [
            await bus.on(room.room_id, on_frame, ["frame"], group="vision"),
            await bus.on(room.room_id, on_control, ["stage", "catalog.updated"]),
        ]
        if not self._workers:
            for i in range(self.settings.workers):
                supervised = self.services.supervisor.run(
                    self._worker, name=f"worker-{i}", capability="vision"
                )
                task = asyncio.create_task(supervised, name=f"vision-worker-{i}")
                self._workers.append(task)

    async def _set_catalog(self, state: RoomState, products: list[Product]) -> None:
        state.products = products
        classifier = None
        if any(p.image for p in products):
            classifier = self.engine.models.classifier

        def build() -> CatalogMatcher:
            embed = (lambda img: classifier.classify(img).embedding) if classifier else None
            return CatalogMatcher(products, self.settings, embed)

        state.matcher = await self.engine.run(build)

    async def _on_frame(self, state: RoomState, event: Event) -> None:
        if not isinstance(event, Frame):
            return
        if state.pending is not None:
            self.dropped.inc()
        state.pending = event  # latest wins: never a backlog
        if not state.busy and state.room_id not in self._ready:
            self._ready.append(state.room_id)
            self._wake.set()

    async def _on_control(self, state: RoomState, event: Event) -> None:
        if isinstance(event, StageChanged):
            state.follow(event)
        elif isinstance(event, CatalogUpdated):
            await self._set_catalog(state, event.products)

    async def _worker(self) -> None:
        """Round-robin over rooms with a pending frame; one pass per room at a time."""
        while True:
            while not self._ready:
                self._wake.clear()
                await self._wake.wait()
            state = self.rooms.get(self._ready.popleft())
            if state is None or state.pending is None:
                continue
            frame, state.pending, state.busy = state.pending, None, True
            try:
                await self._one_pass(state, frame)
            finally:
                state.busy = False
                if state.pending is not None and state.room_id in self.rooms:
                    self._ready.append(state.room_id)  # to the back of the line: fairness
                    self._wake.set()

    async def _one_pass(self, state: RoomState, frame: Frame) -> None:
        try:
            with self.latency.time():
                res = await self.engine.run(run_pass, self.engine.models, state.matcher, frame.data)
        except VisionError as exc:
            self.failed.inc()
            log.warning("room %s: frame %s skipped: %s", state.room_id, frame.id, exc.message)
            return
        except Exception:
            self.failed.inc()
            log.exception("room %s: frame pass failed", state.room_id)
            return
        update = state.update(frame, res)
        await self.services.bus.publish(update)
        self.passes.inc()

    async def close(self) -> None:
        for sub in self._subs:
            sub.close("vision closed")
        tasks = list(self._workers)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self.rooms.clear()
        await asyncio.to_thread(self.engine.close)


def create(services: Services) -> VisionCapability:
    return VisionCapability(services)
