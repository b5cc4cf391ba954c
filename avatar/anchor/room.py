"""One anchor room: bus events in, a paced, never-silent stream of AudioChunk + Subtitle out."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from assistant.approved import Approved
from assistant.events import (
    Answer,
    CatalogUpdated,
    Event,
    HostSay,
    ScheduleSet,
    Script,
    ScriptApproved,
    ScriptDelta,
    ScriptRequest,
)
from assistant.supervise import Supervisor
from avatar.anchor.feed import ScriptFeed
from avatar.anchor.fillers import Fillers
from avatar.anchor.playlist import Playlist
from avatar.anchor.queue import PRIORITY, SpeechQueue, Utterance
from avatar.anchor.voice import Voice
from avatar.text import split_sentences

if TYPE_CHECKING:
    from assistant.bus import EventBus, Listener
    from assistant.plugins import RoomInfo
    from assistant.store import Store
    from avatar.gate import Gate
    from avatar.metrics import AvatarMetrics
    from avatar.settings import AvatarSettings
    from avatar.tts import TTS

log = logging.getLogger(__name__)
STATE_KEY = "anchor"
SEQ_RESUME_GAP = 1_000
ANSWERS_REMEMBERED = 512
CUTS_IN = ("host", "answer")
EVENT_TYPES = (
    "script",
    "script.delta",
    "script.approved",
    "answer",
    "host.say",
    "schedule.set",
    "catalog.updated",
)


class AnchorRoom:
    """Owns three tasks: the speaker (paces audio), the script fetcher and the persister."""

    def __init__(
        self,
        room: RoomInfo,
        *,
        bus: EventBus,
        store: Store,
        tts: TTS,
        settings: AvatarSettings,
        metrics: AvatarMetrics,
        gate: Gate,
        lines: list[str],
        supervisor: Supervisor | None = None,
    ) -> None:
        """``supervisor`` restarts a failed loop and shows it in the room's health (a room
        built alone gets its own)."""
        self.room_id = room.room_id
        self.language: Any = room.language if room.language in ("zh", "en") else "zh"
        self.bus, self.store, self.tts, self.settings = bus, store, tts, settings
        self.metrics, self.gate = metrics, gate
        self.playlist = Playlist([p.sku for p in room.catalog.products])
        self.fillers = Fillers(lines, settings.script_cache)
        self._lines = lines
        self.queue = SpeechQueue(settings.max_pending)
        self.last_script: str | None = None
        self.last_was_filler, self.spoken = True, 0
        self.voice = Voice(self.room_id, bus, tts, settings, metrics)
        self._pending: dict[str, asyncio.Future[Script]] = {}
        self.feed = ScriptFeed(self.queue, metrics, settings.repeat_window)
        self.approved_turns: dict[str, int] = {}
        self.approved = Approved()
        self._next_filler: Utterance | None = None
        self._need_script = asyncio.Event()
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: Listener | None = None
        self.supervisor = supervisor or Supervisor(CollectorRegistry())
        # Answers already queued for speech, by event id: an answer delivered twice (a bus
        # replay, a restart) is said once.
        self._answered: deque[str] = deque(maxlen=ANSWERS_REMEMBERED)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        state = await self.store.state(self.room_id, STATE_KEY)
        if state:
            self._restore(state)
        self.approved = await Approved.load(self.store, self.room_id)
        self._sub = await self.bus.on(self.room_id, self._on_event, EVENT_TYPES)
        self._need_script.set()
        jobs = {"speaker": self._speaker, "scripts": self._scripts, "persist": self._persister}
        for name, loop in jobs.items():
            supervised = self.supervisor.run(
                loop, name=name, capability="avatar", room_id=self.room_id
            )
            self._tasks.append(
                asyncio.create_task(supervised, name=f"anchor-{name}-{self.room_id}")
            )

    async def close(self, *, persist: bool = True) -> None:
        """Stop every task; ``persist=False`` leaves the store as a crash would."""
        if self._sub is not None:
            self._sub.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.voice.close()
        if persist:
            await self._persist()

    def _restore(self, state: dict[str, Any]) -> None:
        # seq jumps ahead so chunks sent after the last persist are never numbered twice
        self.voice.seq = int(state.get("seq", 0)) + SEQ_RESUME_GAP
        self.spoken = int(state.get("spoken", 0))
        self.last_script = state.get("last_script")
        self.feed.restore(state.get("recent", []))
        self.approved_turns = dict(state.get("approved_turns", {}))
        self._answered.extend(state.get("answered", []))
        self.playlist = Playlist(self.playlist.catalog, state.get("playlist"))
        self.fillers = Fillers(self._lines, self.settings.script_cache, state.get("fillers"))
        now = asyncio.get_running_loop().time()
        for raw in state.get("queue", []):
            self.queue.push(self._stamp(Utterance.model_validate(raw), now))
        if state.get("current"):
            current = Utterance.model_validate(state["current"])
            self.queue.push(self._stamp(current, now), front=True)
        log.info("anchor room %s resumed: %d queued", self.room_id, len(self.queue))

    def _stamp(self, utt: Utterance, now: float) -> Utterance:
        deadline = now + self.settings.answer_deadline_s if utt.kind == "answer" else None
        return utt.model_copy(update={"received": now, "deadline": deadline})

    def snapshot(self) -> dict[str, Any]:
        current = self.voice.current
        return {
            "seq": self.voice.seq,
            "spoken": self.spoken,
            "last_script": self.last_script,
            "recent": list(self.feed.recent),
            "approved_turns": self.approved_turns,
            "answered": list(self._answered),
            "playlist": self.playlist.dump(),
            "fillers": self.fillers.dump(),
            "queue": self.queue.dump(),
            "current": current.model_dump(mode="json", exclude={"received", "deadline"})
            if current is not None and current.kind != "filler"
            else None,
        }

    async def _persist(self) -> None:
        try:
            await self.store.put_state(self.room_id, STATE_KEY, self.snapshot())
        except Exception:
            log.exception("anchor room %s: could not persist its state", self.room_id)

    async def _persister(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._persist()
            await asyncio.sleep(self.settings.persist_interval_s)

    # -- input ---------------------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        now = asyncio.get_running_loop().time()
        if isinstance(event, ScriptDelta):
            if self.feed.is_open(event.request_id):
                self.feed.push(event.request_id, event.sku, event.delta)
                self._dirty.set()
            return
        if isinstance(event, Script):
            future = self._pending.get(event.request_id)
            if future is not None and not future.done():
                future.set_result(event)
            return
        if isinstance(event, ScriptApproved):
            self.approved = await Approved.load(self.store, self.room_id)
            return
        if isinstance(event, Answer):
            if event.id in self._answered:
                return
            self._answered.append(event.id)
            self._enqueue("answer", event.id, event.text, now, sku=event.sku)
        elif isinstance(event, HostSay):
            self._enqueue("host", event.id, self.gate.rewrite(event.text), now)
        elif isinstance(event, ScheduleSet):
            self.playlist.set_items(event.items)
        elif isinstance(event, CatalogUpdated):
            self.playlist.set_catalog([p.sku for p in event.products])
        self._dirty.set()

    def _enqueue(
        self, kind: Any, source: str, text: str, now: float, sku: str | None = None
    ) -> None:
        for i, sentence in enumerate(split_sentences(text)):
            utt = Utterance(kind=kind, source=source, index=i, text=sentence, sku=sku)
            self.queue.push(self._stamp(utt, now))
            if i == 0:  # its voice is ready by the time the current clause ends
                self.voice.prepare(utt)

    async def _scripts(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._need_script.wait()
            if self.queue.count("script") >= self.settings.low_watermark:
                self._need_script.clear()
                continue
            sku = self.playlist.next()
            if sku is None:  # empty catalog: fillers keep talking
                self._need_script.clear()
                await asyncio.sleep(self.settings.script_timeout_s / 4)
                self._need_script.set()
                continue
            approved = self.approved.pick(sku, self.approved_turns.get(sku, 0))
            if approved is not None:  # the host's own words, verbatim, in rotation
                self.approved_turns[sku] = self.approved_turns.get(sku, 0) + 1
                self.feed.push(approved.request_id, sku, approved.text, verbatim=True)
                self.fillers.remember(approved.request_id, sku, split_sentences(approved.text))
                self._dirty.set()
                continue
            request = ScriptRequest(
                room_id=self.room_id,
                sku=sku,
                style=self.settings.script_style,
                seconds=self.settings.script_seconds,
                language=self.language,
            )
            future: asyncio.Future[Script] = loop.create_future()
            self._pending[request.id] = future
            self.feed.open(request.id)
            try:
                # not wait_for: on 3.11 it swallows a cancel that races the script's arrival
                async with asyncio.timeout(self.settings.script_timeout_s):
                    await self.bus.publish(request)
                    script = await future
            except TimeoutError:
                self.metrics.script_timeouts.inc()
                log.warning("anchor room %s: no script for %s in time", self.room_id, sku)
                continue
            finally:
                self._pending.pop(request.id, None)
                streamed = self.feed.close(request.id)
            if not streamed:  # a writer that sends the whole script at once
                self.feed.push(script.id, sku, script.text)
            self.fillers.remember(script.id, script.sku, split_sentences(script.text))
            self._dirty.set()

    # -- output --------------------------------------------------------------------------------

    def _answers_may_go(self, now: float) -> bool:
        """Answers wait behind a script sentence once they have had their share of the air."""
        share = self.voice.airtime.answer_share(now)
        return share < self.settings.answer_share or self.queue.count("script") == 0

    def _take(self, now: float) -> Utterance:
        self.metrics.answers_unspoken.inc(self.queue.drop_stale_answers(now))
        head = self.queue.peek()
        if head is not None and head.kind == "answer" and not self._answers_may_go(now):
            utt = self.queue.pop_kind("script")
        else:
            utt = self.queue.pop()
        if utt is not None:
            if utt.kind == "script":
                self.fillers.reset()
            return utt
        filler, self._next_filler = self._next_filler or self._filler(), None
        return filler

    def _upcoming(self) -> Utterance:
        """Said next: the queue's head, else a filler chosen now, so it can be voiced ahead."""
        if (head := self.queue.peek()) is not None:
            return head
        self._next_filler = self._next_filler or self._filler()
        return self._next_filler

    def _filler(self) -> Utterance:
        pick = self.fillers.next(self.last_script, self.last_was_filler, self.feed.said_lately)
        self.metrics.fillers.labels("cache" if pick.kind == "script" else "line").inc()
        return Utterance.model_validate(pick.model_dump())

    def _cuts_in(self, utt: Utterance) -> bool:
        head = self.queue.peek()
        if head is None or head.kind not in CUTS_IN or PRIORITY[head.kind] >= PRIORITY[utt.kind]:
            return False  # a script sentence waits for a filler to end: nobody is waiting on it
        return head.kind == "host" or self._answers_may_go(asyncio.get_running_loop().time())

    async def _speaker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.voice.wait_buffer()
            utt = self._take(loop.time())
            rest = await self.voice.speak(
                utt, functools.partial(self._cuts_in, utt), self._upcoming
            )
            if rest is not None and rest.kind != "filler":
                self.queue.push(rest, front=True)  # said next, never again from the start
            elif rest is None:
                self.spoken += 1
                if utt.kind == "script":
                    self.last_script, self.last_was_filler = utt.source, False
                elif utt.kind == "filler":
                    self.last_was_filler = True
            if self.queue.count("script") < self.settings.low_watermark:
                self._need_script.set()
            self._dirty.set()
