"""A live anchor room on real processes, a fault from outside, and what came out of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect

from assistant.events import Answer, ChatAccepted, Error, parse_event
from assistant.rooms import RoomCreated
from tests.faults.redisproc import RedisProcess
from tests.faults.service import ServiceProcess, demo_room
from tests.images import png
from tests.waits import until as wait_until

QUESTIONS = ["保温杯多少钱", "空气炸锅有几升", "精华液适合什么肤质", "保温杯能装热水吗",
             "炸锅怎么清洗", "多久发货", "可以七天无理由吗", "精华液多少毫升"]  # fmt: skip


class Outcome(BaseModel):
    """One fault's figures: ``recovered_s`` from the fault's end to the first answer to a
    question asked after it; ``lost``: accepted questions that never ended answered or
    skipped; ``twice``: answers a viewer received more than once."""

    fault: str
    recovered_s: float | None
    backlog_s: float | None  # fault end to the answer of the last question asked before it
    anchor_s: float | None  # fault end to the first audio made after it
    vision_s: float | None  # fault end to the first vision update on a frame sent after it
    accepted: int
    answered: int
    skipped: int
    lost: int
    twice: int


@dataclass
class Seen:
    accepted: set[str] = field(default_factory=set)
    asked_at: dict[str, float] = field(default_factory=dict)
    answers: dict[tuple[int, str], int] = field(default_factory=dict)  # (viewer, chat id)
    answered_at: dict[str, float] = field(default_factory=dict)
    audio: list[tuple[float, float]] = field(default_factory=list)  # (arrival, seconds)
    vision: list[float] = field(default_factory=list)


def service_env(redis: RedisProcess, store: Path) -> dict[str, str]:
    return {
        "LCA_BUS__BACKEND": "redis",
        "LCA_BUS__REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "LCA_STORE__PATH": str(store),
        "LCA_CAPABILITIES": '["vision", "brain", "avatar"]',
        "LCA_LLM__BACKEND": "none",
        "LCA_AVATAR__BACKEND": "espeak",
        "LCA_AVATAR__ESPEAK_VOICE": "cmn",
        "LCA_UNDERSTAND__EMBEDDER": "none",
        "LCA_TRIAGE__RATE_PER_MINUTE": "100000",
        "LCA_TRIAGE__BURST": "1000",
        "LCA_TRIAGE__LEASE_S": "6",
        "LCA_LIMITS__VIEWER_PER_CONNECTION": "100000/second",
        "LCA_LIMITS__VIEWER_PER_ADDRESS": "100000/second",
        "LCA_LIMITS__VIEWER_PER_ROOM": "100000/second",
    }


class Rig:
    """N instances on one Redis and one store, an anchor room, a viewer on each instance."""

    def __init__(self, workdir: Path, instances: int = 1) -> None:
        self.redis = RedisProcess(workdir)
        env = service_env(self.redis, workdir / "lca.sqlite3")
        self.services = [ServiceProcess(env, workdir) for _ in range(instances)]
        self.seen = Seen()
        self.room: RoomCreated | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._sockets: dict[int, ClientConnection] = {}
        self._asked = 0
        self._asking = True

    async def start(self) -> None:
        await self.redis.start()
        for service in self.services:
            await service.start()
        self.room = await demo_room(self.services[0], mode="anchor")
        for n, service in enumerate(self.services):
            self._spawn(self._viewer(service, n))
        self._spawn(self._anchor())
        self._spawn(self._frames())
        await self.until(lambda: bool(self.seen.answered_at and self.seen.audio
                                      and self.seen.vision), 120)  # fmt: skip

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def survivor(self) -> ServiceProcess:
        return next(s for s in self.services if s.proc and s.proc.returncode is None)

    async def _viewer(self, service: ServiceProcess, n: int) -> None:
        assert self.room is not None
        async with connect(service.ws(self.room, "viewer"), max_size=None) as ws:
            self._sockets[n] = ws
            reader = asyncio.ensure_future(self._read_viewer(ws, n))
            try:
                while self._asking:
                    await self._ask(ws, n)
                    await asyncio.sleep(0.5)
            finally:
                reader.cancel()

    async def _ask(self, ws: ClientConnection, n: int) -> None:
        """Send a question and wait for the server's acknowledgement (or refusal)."""
        pending = self._pending[n] = asyncio.get_running_loop().create_future()
        await self._send(ws, n)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending, 10)

    async def _send(self, ws: ClientConnection, n: int) -> None:
        self._asked += 1
        text = f"{QUESTIONS[self._asked % len(QUESTIONS)]}（{n}-{self._asked}）"
        await ws.send(json.dumps({"type": "chat", "user": {"id": "v", "name": "小王"},
                                  "text": text}, ensure_ascii=False))  # fmt: skip

    async def burst(self, n: int, count: int) -> None:
        """``count`` questions at once on viewer ``n``; returns when most are acknowledged,
        so the instance holds a backlog."""
        before = len(self.seen.accepted)
        for _ in range(count):
            await self._send(self._sockets[n], n)
        await self.until(lambda: len(self.seen.accepted) - before >= count // 2, 10)

    async def _read_viewer(self, ws: ClientConnection, n: int) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                event = parse_event(raw)
                pending = self._pending.get(n)
                if isinstance(event, ChatAccepted) and event.target_user:
                    self.seen.accepted.add(event.chat_id)
                    self.seen.asked_at.setdefault(event.chat_id, time.monotonic())
                if isinstance(event, ChatAccepted | Error) and pending and not pending.done():
                    pending.set_result(None)
                elif isinstance(event, Answer):
                    key = (n, event.chat_id)
                    self.seen.answers[key] = self.seen.answers.get(key, 0) + 1
                    self.seen.answered_at.setdefault(event.chat_id, time.monotonic())

    async def _anchor(self) -> None:
        assert self.room is not None
        while True:  # the anchor's player reconnects, to whichever instance is up
            with contextlib.suppress(Exception):
                async with connect(self.survivor().ws(self.room, "anchor"), max_size=None) as ws:
                    rate = 0
                    async for raw in ws:
                        if isinstance(raw, str) and '"audio.chunk"' in raw:
                            rate = json.loads(raw)["sample_rate"]
                        elif isinstance(raw, bytes) and rate:  # PCM16 mono after its header
                            self.seen.audio.append((time.monotonic(), len(raw) / 2 / rate))
            await asyncio.sleep(0.2)

    async def _frames(self) -> None:
        assert self.room is not None
        headers = {"Authorization": f"Bearer {self.room.tokens['host']}"}
        host_ws = self.services[0].ws(self.room, "host")
        async with httpx.AsyncClient(timeout=5) as http:
            self._spawn(self._watch_vision(host_ws))
            shade = 0
            while True:
                shade = (shade + 37) % 256
                with contextlib.suppress(httpx.HTTPError):
                    url = f"{self.survivor().url}/v1/rooms/{self.room.room_id}/frames"
                    await http.post(url, content=png((shade, 90, 160), (64, 48)), headers=headers)
                await asyncio.sleep(0.5)

    async def _watch_vision(self, url: str) -> None:
        while True:
            with contextlib.suppress(Exception):
                assert self.room is not None
                async with connect(self.survivor().ws(self.room, "host"), max_size=None) as ws:
                    async for raw in ws:
                        if isinstance(raw, str) and '"vision.update"' in raw:
                            self.seen.vision.append(time.monotonic())
            await asyncio.sleep(0.2)

    @staticmethod
    async def until(condition: Callable[[], bool], timeout: float) -> None:
        await wait_until(condition, timeout, poll=0.1)  # conditions in other processes

    async def statuses(self) -> dict[str, str]:
        """Every chat line's status, read from the store through a live instance."""
        assert self.room is not None
        headers = {"Authorization": f"Bearer {self.room.tokens['host']}"}
        url = f"{self.survivor().url}/v1/rooms/{self.room.room_id}/chat?limit=2000"
        async with httpx.AsyncClient(timeout=10) as http:
            rows = (await http.get(url, headers=headers)).json()
        return {row["chat"]["id"]: row["status"] for row in rows}

    async def outcome(self, fault: str, ended: float, settle_s: float = 60.0) -> Outcome:
        """Ask on for a while after the fault, then stop and wait for every question to end."""
        await asyncio.sleep(8)
        self._asking = False
        accepted = set(self.seen.accepted)
        statuses: dict[str, str] = {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settle_s):
                while True:
                    statuses = await self.statuses()
                    if all(statuses.get(c, "queued") != "queued" for c in accepted):
                        break
                    await asyncio.sleep(0.5)
        after = [c for c, t in self.seen.asked_at.items() if t > ended]
        firsts = [self.seen.answered_at[c] for c in after if c in self.seen.answered_at]
        before = [c for c, t in self.seen.asked_at.items() if t <= ended]
        backlog = [self.seen.answered_at[c] for c in before if c in self.seen.answered_at]
        return Outcome(
            fault=fault,
            recovered_s=round(min(firsts) - ended, 2) if firsts else None,
            backlog_s=round(max(0.0, max(backlog) - ended), 2)
            if backlog and len(backlog) == len(before)
            else None,
            anchor_s=_silent_after(self.seen.audio, ended),
            vision_s=_first_after(self.seen.vision, ended),
            accepted=len(accepted),
            answered=sum(statuses.get(c) == "answered" for c in accepted),
            skipped=sum(statuses.get(c) == "skipped" for c in accepted),
            lost=sum(statuses.get(c, "queued") == "queued" for c in accepted),
            twice=sum(n > 1 for n in self.seen.answers.values()),
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for service in self.services:
            await service.stop()
        await self.redis.kill()


def _silent_after(audio: list[tuple[float, float]], ended: float) -> float | None:
    """How long after ``ended`` a listener playing the chunks back to back heard nothing
    (0: the voice never stopped); None: it never spoke again."""
    playhead = 0.0
    for arrival, seconds in audio:
        if arrival > ended and arrival > playhead:
            return round(arrival - max(ended, playhead), 2)
        if arrival > ended:
            return 0.0
        playhead = max(playhead, arrival) + seconds
    return 0.0 if playhead > ended else None


def _first_after(times: list[float], ended: float) -> float | None:
    later = [t for t in times if t > ended]
    return round(min(later) - ended, 2) if later else None


@dataclass(frozen=True)
class Fault:
    """A fault injected from outside; ``inject`` returns when it is over."""

    name: str
    inject: Callable[[Rig], Awaitable[None]]
    instances: int = 1


async def _stop_redis(rig: Rig) -> None:
    await rig.redis.stop()
    await asyncio.sleep(5)
    await rig.redis.start()


async def _restart_redis(rig: Rig) -> None:
    await rig.redis.restart()


async def _pause_redis(rig: Rig) -> None:
    rig.redis.pause()
    await asyncio.sleep(10)
    rig.redis.resume()


async def _kill_instance(rig: Rig) -> None:
    await rig.burst(1, 20)  # it dies holding questions it has not answered yet
    rig.services[1].kill()


FAULTS = [
    Fault("redis stopped for 5 s", _stop_redis),
    Fault("redis restarted without its data", _restart_redis),
    Fault("redis paused (SIGSTOP) for 10 s", _pause_redis),
    Fault("kill -9 of one of two instances", _kill_instance, instances=2),
]


async def run(fault: Fault, workdir: Path) -> Outcome:
    rig = Rig(workdir, fault.instances)
    try:
        await rig.start()
        await fault.inject(rig)
        return await rig.outcome(fault.name, time.monotonic())
    finally:
        await rig.close()
