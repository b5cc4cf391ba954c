"""The avatar capability: runs an AnchorRoom for every room whose mode is "anchor"."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from typing import TYPE_CHECKING

from assistant.errors import AssistantError
from assistant.plugins import CapabilityStatus
from avatar.anchor.fillers import load_lines
from avatar.anchor.room import AnchorRoom
from avatar.gate import Gate
from avatar.metrics import AvatarMetrics
from avatar.push.api import Pushes, build_router

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.plugins import RoomInfo, Services
    from avatar.tts import TTS

log = logging.getLogger(__name__)
RECENT_FAILURE_S = 60.0


class AvatarCapability:
    name = "avatar"

    def __init__(self, services: Services, *, tts: TTS | None = None) -> None:
        self.services = services
        self.settings = services.settings.avatar
        self.metrics = AvatarMetrics(services.registry)
        self._tts = tts
        self._gate: Gate | None = None
        self._lines: dict[str, list[str]] = {}
        self._warmed = False
        self.rooms: dict[str, AnchorRoom] = {}  # the rooms on air from this instance
        self._leases: dict[str, asyncio.Task[None]] = {}
        self._owner = uuid.uuid4().hex
        self._lock = asyncio.Lock()
        self.pushes = Pushes(services)  # anchor rooms pushing their program over RTMP(S)

    def router(self) -> APIRouter | None:
        return build_router(self.pushes)

    def status(self, room_id: str) -> CapabilityStatus | None:
        anchor = self.rooms.get(room_id)
        if anchor is None:
            if room_id not in self._leases:
                return None
            detail = "standby: another instance runs this room's anchor"
            return CapabilityStatus(name="tts", ok=True, detail=detail)
        last = anchor.voice.last_failure
        failing = last is not None and time.time() - last[0] < RECENT_FAILURE_S
        return CapabilityStatus(
            name="tts",
            ok=not failing,
            detail=f"TTS failing: {last[1]}" if failing and last else "speaking",
            info={"backend": self.settings.backend, **_on_air(anchor)},
        )

    def tts(self) -> TTS:
        if self._tts is None:
            from avatar.tts import create_tts

            self._tts = create_tts(self.settings)
        return self._tts

    def _filler_lines(self, language: str) -> list[str]:
        if self._gate is None:
            self._gate = Gate(self.services.compliance)
        if language not in self._lines:
            raw = load_lines(self.settings.fillers_path, language)
            gated = [self._gate.rewrite(line) for line in raw]
            self._lines[language] = [line for line in gated if line.strip()]
        return self._lines[language]

    async def open_room(self, room: RoomInfo) -> None:
        """Run the room's anchor here if this instance holds the room's lease; otherwise stand
        by, and take over within ``lease_s`` when the instance that runs it goes away."""
        if room.mode != "anchor" or room.room_id in self._leases:
            return
        if await self._hold(room.room_id):
            await self._start(room)
        supervised = self.services.supervisor.run(
            functools.partial(self._keep_lease, room),
            name="lease",
            capability=self.name,
            room_id=room.room_id,
        )
        self._leases[room.room_id] = asyncio.create_task(
            supervised, name=f"anchor-lease-{room.room_id}"
        )

    async def _hold(self, room_id: str) -> bool:
        try:
            return await self.services.bus.hold(_lease(room_id), self._owner, self.settings.lease_s)
        except AssistantError as exc:
            # The backend is down: nobody can take the lease meanwhile, so a room that is on
            # air stays on air.
            log.warning("anchor lease of room %s not renewed: %s", room_id, exc)
            return room_id in self.rooms

    async def _keep_lease(self, room: RoomInfo) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            held = await self._hold(room.room_id)
            if held and room.room_id not in self.rooms:
                log.info("taking over the anchor of room %s", room.room_id)
                await self._start(room)
            elif not held and room.room_id in self.rooms:
                log.warning("another instance runs the anchor of room %s now", room.room_id)
                await self._stop(room.room_id)

    async def _start(self, room: RoomInfo) -> None:
        async with self._lock:
            if room.room_id in self.rooms:
                return
            lines = self._filler_lines(room.language)
            assert self._gate is not None
            anchor = AnchorRoom(
                room,
                bus=self.services.bus,
                store=self.services.store,
                tts=self.tts(),
                settings=self.settings,
                metrics=self.metrics,
                gate=self._gate,
                lines=lines,
                supervisor=self.services.supervisor,
            )
            if not self._warmed:
                # A cold voice takes seconds for its first line: load it before the loop starts.
                await anchor.tts.warmup("你好，hello" if room.language == "zh" else "hello")
                self._warmed = True
            await anchor.start()
            self.rooms[room.room_id] = anchor
            log.info("anchor loop started for room %s", room.room_id)

    async def _stop(self, room_id: str) -> None:
        anchor = self.rooms.pop(room_id, None)
        if anchor is not None:
            await anchor.close()

    async def close_room(self, room_id: str) -> None:
        lease = self._leases.pop(room_id, None)
        if lease is not None:
            lease.cancel()
            await asyncio.gather(lease, return_exceptions=True)
        was_on_air = room_id in self.rooms
        await self._stop(room_id)
        if was_on_air:
            with contextlib.suppress(AssistantError):
                await self.services.bus.release(_lease(room_id), self._owner)

    async def close(self) -> None:
        await self.pushes.close()
        for room_id in list(self._leases):
            await self.close_room(room_id)
        if self._tts is not None:
            await self._tts.close()


def _lease(room_id: str) -> str:
    """The bus lease of a room's anchor: its holder is the one instance that runs it."""
    return f"anchor:{room_id}"


def _on_air(anchor: AnchorRoom, upcoming: int = 8) -> dict[str, object]:
    """The utterance being spoken and the next ones, for the host console."""
    current = anchor.voice.current
    return {
        "current": current.model_dump(include={"kind", "text", "sku"}) if current else None,
        "upcoming": [
            {key: u.get(key) for key in ("kind", "text", "sku")}
            for u in anchor.queue.dump()[:upcoming]
        ],
        "queued": len(anchor.queue),
        "spoken": anchor.spoken,
    }


def create(services: Services) -> AvatarCapability:
    return AvatarCapability(services)
