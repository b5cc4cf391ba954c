"""One room's push: its worker process fed from the room's bus, restarted when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ValidationError

from assistant.events import AudioChunk, Event, ProductCard, Subtitle
from assistant.supervise import Backoff, Supervisor
from avatar.push.protocol import Audio, Caption, Card, Report, Start, pack
from avatar.push.urls import redacted

if TYPE_CHECKING:
    from assistant.bus import EventBus, Listener
    from avatar.settings import PushSettings

log = logging.getLogger(__name__)
PushState = Literal["connecting", "live", "reconnecting", "stopped", "failed"]
TYPES = ("audio.chunk", "subtitle", "product.card")
STOP_WAIT_S = 5.0
EXIT_WAIT_S = 2.0
COUNTERS = ("bytes_out", "audio_s", "video_frames", "frames_skipped", "dropped_audio_s", "cpu_s")


class PushStatus(BaseModel):
    """``audio_s``, ``bytes_out`` (encoded bytes written), ``video_frames``, ``cpu_s`` (the
    worker processes' CPU time) add up over every connection of the push."""

    room_id: str
    url: str  # without the stream key
    state: PushState
    started_at: float
    live_since: float | None = None  # when the current connection went live
    connections: int = 0  # connections that went live
    reconnects: int = 0  # connections that went live after an earlier one ended
    bytes_out: int = 0
    audio_s: float = 0.0
    video_frames: int = 0
    frames_skipped: int = 0
    dropped_audio_s: float = 0.0
    dropped_events: int = 0  # events the worker could not take in time (it was stuck)
    cpu_s: float = 0.0
    last_error: str | None = None
    last_error_at: float | None = None


class RoomPush:
    """Pushes one room's program to one URL until stopped: connecting again with backoff
    (up to 1 s doubling to ``backoff_max_s``, with jitter; from 1 s again after a connection
    that lasted 30 s) whenever the connection ends."""

    def __init__(
        self,
        room_id: str,
        url: str,
        *,
        bus: EventBus,
        settings: PushSettings,
        supervisor: Supervisor | None = None,
        language: str = "zh",
        card: Card | None = None,
    ) -> None:
        self.room_id, self.url, self.bus, self.settings = room_id, url, bus, settings
        self.supervisor, self.language = supervisor, language
        self.backoff = Backoff(first_s=1.0, max_s=settings.backoff_max_s)
        self._card = card
        self._status = PushStatus(
            room_id=room_id, url=redacted(url), state="connecting", started_at=time.time()
        )
        self._ended = Report(state="ended")  # the counters of the connections that ended
        self._proc: asyncio.subprocess.Process | None = None
        self._listener: Listener | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._changed = asyncio.Event()

    def status(self) -> PushStatus:
        return self._status.model_copy()

    async def wait_for(self, condition: Callable[[PushStatus], bool], timeout: float) -> PushStatus:
        """The status once ``condition`` holds for it; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            while not condition(self._status):
                await self._changed.wait()
        return self.status()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def start(self) -> None:
        self._listener = await self.bus.on(self.room_id, self._on_event, TYPES)
        # Under the supervisor, a bug in the loop restarts it instead of ending the push.
        run = (
            self._run()
            if self.supervisor is None
            else self.supervisor.run(
                self._run, name="push", capability="avatar", room_id=self.room_id
            )
        )
        self._task = asyncio.create_task(run, name=f"anchor-push-{self.room_id}")

    async def stop(self) -> None:
        """End the stream cleanly (the worker writes the FLV trailer), or kill the worker."""
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()
        proc = self._proc
        if proc is not None and proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()  # the worker's signal to finish
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self._status.state = "stopped"
        self._status.live_since = None
        self._notify()

    async def _on_event(self, event: Event) -> None:
        at = time.monotonic()
        if isinstance(event, AudioChunk):
            audio = Audio(
                at=at, lead_s=event.lead_s, rate=event.sample_rate, uid=event.utterance_id
            )
            self._send(pack(audio, event.data))
        elif isinstance(event, Subtitle):
            self._send(pack(Caption(at=at, uid=event.utterance_id, text=event.text)))
        elif isinstance(event, ProductCard):
            self._card = Card.model_validate(event.model_dump(include=set(Card.model_fields)))
            self._send(pack(self._card))

    def _send(self, data: bytes) -> None:
        """Hand a message to the worker without ever waiting: past ``max_pending_bytes``
        waiting (a worker stuck connecting) it is dropped and counted. Between connections
        there is nobody to hand it to: the timeline goes on without it."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        pending = proc.stdin.transport.get_write_buffer_size()
        if pending + len(data) > self.settings.max_pending_bytes:
            self._status.dropped_events += 1
            return
        proc.stdin.write(data)

    async def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            began = time.monotonic()
            report = await self._connection()
            if self._stopped.is_set():
                return
            if report.error is not None:
                self._status.last_error, self._status.last_error_at = report.error, time.time()
                log.warning("push of room %s: %s", self.room_id, report.error)
            self._status.state = "failed" if report.permanent else "reconnecting"
            self._notify()
            if report.permanent:
                return
            healthy = time.monotonic() - began > self.backoff.healthy_after_s
            failures = 1 if healthy else failures + 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.backoff.delay(failures))

    async def _connection(self) -> Report:
        """Run one worker until its connection ends; returns its last report."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "avatar.push.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        last = Report(state="connecting")
        try:
            start = Start(url=self.url, settings=self.settings, language=self.language)
            proc.stdin.write(pack(start) + (pack(self._card) if self._card else b""))
            if self._stopped.is_set():
                proc.stdin.close()  # stopped while it was starting: it ends as soon as it can
            while last.state != "ended":
                try:
                    line = await asyncio.wait_for(proc.stdout.readline(), self.settings.stall_s)
                except TimeoutError:
                    stalled = f"the worker reported nothing for {self.settings.stall_s:g} s"
                    return last.model_copy(update={"error": f"{stalled}: connection stalled"})
                if not line:
                    exited = f"the worker exited with status {await proc.wait()}"
                    return last.model_copy(update={"error": exited})
                with contextlib.suppress(ValidationError):  # not a report: not ours to read
                    last = Report.model_validate_json(line)
                    self._seen(last)
            return last
        finally:
            self._proc = None
            self._close_connection(last)
            if last.state == "ended":  # it said its last word: let it exit on its own
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), EXIT_WAIT_S)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    def _seen(self, report: Report) -> None:
        """The running worker's latest report (its counters are its own) folded in."""
        status = self._status
        for name in COUNTERS:
            setattr(status, name, getattr(self._ended, name) + getattr(report, name))
        if report.state == "live" and status.live_since is None and not self._stopped.is_set():
            status.state, status.live_since = "live", time.time()
            status.connections += 1
            status.reconnects = status.connections - 1
        self._notify()

    def _close_connection(self, last: Report) -> None:
        self._seen(last.model_copy(update={"state": "ended"}))
        self._ended = Report(state="ended", **{n: getattr(self._status, n) for n in COUNTERS})
        self._status.live_since = None
