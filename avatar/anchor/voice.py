"""The anchor's voice: says an utterance clause by clause, paced by the listeners' clock."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from assistant.events import AudioChunk, Subtitle
from avatar.anchor.clock import PlayClock
from avatar.anchor.speech import AirTime, AudioAhead, clauses, join_clauses
from avatar.errors import AvatarError

if TYPE_CHECKING:
    from assistant.bus import EventBus
    from avatar.anchor.queue import Utterance
    from avatar.audio import PcmChunk
    from avatar.metrics import AvatarMetrics
    from avatar.settings import AvatarSettings
    from avatar.tts import TTS

log = logging.getLogger(__name__)


class Voice:
    """Sends audio at most ``lookahead_s`` ahead of the listeners, so it can stop at a clause."""

    def __init__(
        self, room_id: str, bus: EventBus, tts: TTS, settings: AvatarSettings,
        metrics: AvatarMetrics,
    ) -> None:  # fmt: skip
        self.room_id, self.bus, self.tts = room_id, bus, tts
        self.settings, self.metrics = settings, metrics
        self.clock = PlayClock(room_id, metrics, settings.gap_limit_s)
        self.ahead = AudioAhead(tts, settings.audio_ahead)
        self.airtime = AirTime(settings.airtime_window_s)
        self.seq = 0
        self.current: Utterance | None = None
        self.last_failure: tuple[float, str] | None = None

    def prepare(self, utt: Utterance) -> None:
        """Start synthesising ``utt``'s first clause now, so it is ready when its turn comes."""
        self.ahead.start(utt.uid, clauses(utt.text)[0])

    async def wait_buffer(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self.clock.ahead(loop.time()) - self.settings.lookahead_s
        if wait > 0:
            await asyncio.sleep(wait)

    async def speak(
        self, utt: Utterance, cuts_in: Callable[[], bool], upcoming: Callable[[], Utterance | None]
    ) -> Utterance | None:
        """Say ``utt``; when ``cuts_in()`` at a clause boundary, stop and return the unsaid rest.

        While a clause plays the next one is synthesised: the next of ``utt``, or the first of
        ``upcoming()`` (what is queued after it) while the last one plays.

        A failing backend skips the utterance (counted and logged), never the loop.
        """
        loop = asyncio.get_running_loop()
        uid = f"{utt.uid}.{self.seq}"
        pieces = clauses(utt.text)
        began, sent = loop.time(), 0
        self.current = utt
        try:
            for i, clause in enumerate(pieces):
                if i:
                    await self.wait_buffer()
                    rest = utt.model_copy(
                        update={"text": join_clauses(pieces[i:]), "part": utt.part + i}
                    )
                    if cuts_in():
                        await self._pause(uid)
                        return rest
                    self.current = rest  # a crash from here on resumes at this clause
                if i + 1 < len(pieces):
                    self.ahead.start(utt.uid, pieces[i + 1])
                elif (after := upcoming()) is not None:
                    self.prepare(after)
                async for chunk in self._audio(utt.uid, clause):
                    if sent:
                        await self.wait_buffer()
                    else:
                        self.metrics.first_audio.observe(loop.time() - began)
                    start = self.clock.account(chunk.duration, loop.time())
                    self.airtime.add(start, utt.kind == "answer", chunk.duration)
                    if not sent:
                        self._answered(utt, start)
                        subtitle = Subtitle(room_id=self.room_id, utterance_id=uid,
                                            text=utt.text, kind=utt.kind, sku=utt.sku)  # fmt: skip
                        await self.bus.publish(subtitle)
                    await self._send(uid, clause, chunk.data, chunk.sample_rate, start)
                    sent += 1
        except AvatarError as exc:
            self.metrics.failures.inc()
            self.last_failure = (time.time(), exc.message)
            log.warning("anchor room %s skipped %r: %s", self.room_id, utt.text[:40], exc.message)
            await asyncio.sleep(0.05)  # a backend failing every line must not spin the loop
            return None
        finally:
            self.current = None
        self.metrics.utterances.labels(utt.kind).inc()
        return None

    async def _audio(self, key: str, text: str) -> AsyncIterator[PcmChunk]:
        job = self.ahead.take(key, text)
        if job is None:
            async for chunk in self.tts.synthesize(text):
                yield chunk
            return
        for chunk in await job:
            yield chunk

    async def _pause(self, uid: str) -> None:
        """A short silence where a sentence stops for an answer: a breath, not an underrun."""
        self.metrics.cut_ins.inc()
        rate = self.tts.sample_rate
        pause = bytes(2 * round(self.settings.cut_in_pause_s * rate))
        if pause:
            start = self.clock.account(len(pause) / 2 / rate, asyncio.get_running_loop().time())
            await self._send(uid, "", pause, rate, start)

    async def _send(self, uid: str, text: str, data: bytes, rate: int, start: float) -> None:
        lead = round(max(0.0, start - asyncio.get_running_loop().time()), 3)
        chunk = AudioChunk(room_id=self.room_id, seq=self.seq, utterance_id=uid, text=text,
                           sample_rate=rate, data=data, lead_s=lead)  # fmt: skip
        await self.bus.publish(chunk)
        self.seq += 1

    def _answered(self, utt: Utterance, start: float) -> None:
        if utt.kind != "answer" or utt.index != 0 or utt.part != 0:
            return
        self.metrics.answer_latency.observe(start - utt.received)
        if utt.deadline is not None and start > utt.deadline:
            self.metrics.answers_late.inc()
            late = start - utt.deadline
            log.warning("anchor room %s spoke an answer %.1fs late", self.room_id, late)

    def close(self) -> None:
        self.ahead.close()
