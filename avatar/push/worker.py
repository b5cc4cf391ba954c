"""The push worker process: one RTMP connection, its audio and frames written in real time.

A process, not a thread of the service: PyAV connects (DNS, TCP, the RTMP handshake) and
writes the FLV header while holding the GIL, so a slow or silent ingest server would freeze
every thread of the process that connects; and a stuck write can only be ended by a kill.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import replace
from typing import BinaryIO, TextIO

import av.error
import av.logging
import numpy as np
from av import VideoFrame

from avatar.push.protocol import Audio, Caption, Card, Report, Start, read_message, read_start
from avatar.push.render import CardRenderer, Scene
from avatar.push.stream import PERMANENT, FlvStream
from avatar.push.timeline import AudioTimeline
from avatar.push.urls import scrubbed

REPORT_EVERY_S = 0.5
# A subtitle whose audio has not come this long after it is shown anyway; one stays up this
# long after the last queued audio ends.
CAPTION_WAIT_S = 2.0
HOLD_S = 2.0
MAX_CAPTIONS = 32
Inbox = queue.Queue[tuple[Audio | Caption | Card, bytes] | None]


class Pusher:
    """Writes the room's audio timeline and its card frames into one connection, paced by the
    clock: the audio up to now (silence where none was queued), and the latest frame due."""

    def __init__(self, stream: FlvStream, start: Start, origin: float) -> None:
        s = start.settings
        self.stream, self.fps = stream, s.fps
        self.timeline = AudioTimeline(s.audio_rate, origin)
        self.renderer = CardRenderer(s.width, s.height, s.font_path)
        self.scene = Scene(language=start.language)
        self.frame: VideoFrame | None = None
        self.drawn: Scene | None = None  # the scene in ``frame``: drawn again only when it changes
        self.captions: dict[str, Caption] = {}  # subtitles waiting for their first audio
        self.cues: deque[tuple[float, str]] = deque()  # (when, text) subtitles to show
        self.audio_until = origin
        self.next_frame = 0
        self.frames = 0
        self.skipped = 0

    def take(self, message: Audio | Caption | Card, payload: bytes) -> None:
        if isinstance(message, Audio):
            start = self.timeline.place(message.at + message.lead_s, payload, message.rate)
            if start is None:
                return
            caption = self.captions.pop(message.uid, None)
            if caption is not None:
                self.cues.append((self.timeline.time(start), caption.text))
            self.audio_until = max(self.audio_until, self.timeline.time(self.timeline.end))
        elif isinstance(message, Caption):
            self.captions[message.uid] = message
            while len(self.captions) > MAX_CAPTIONS:
                del self.captions[next(iter(self.captions))]
        else:
            card = message.model_dump(include={"title", "price", "list_price", "point", "stock"})
            self.scene = replace(self.scene, **card)

    def advance(self, now: float) -> None:
        """Write everything due by ``now``, in time order: every audio block (they are never
        skipped) and the newest frame (older ones due meanwhile are)."""
        size, timeline = self.stream.frame_size, self.timeline
        blocks = max(0, (timeline.index(now) - timeline.read_at) // size)
        frame = int((now - timeline.origin) * self.fps)
        frame_at = frame * timeline.rate / self.fps
        for _ in range(blocks):
            if frame >= self.next_frame and frame_at <= timeline.read_at:
                self._frame(frame, now)
            pts = timeline.read_at
            self.stream.write_audio(timeline.read(size), pts)
        if frame >= self.next_frame:
            self._frame(frame, now)

    def due_in(self, now: float) -> float:
        """Seconds until the next audio block or frame is due."""
        timeline = self.timeline
        block = timeline.time(timeline.read_at + self.stream.frame_size)
        frame = timeline.origin + self.next_frame / self.fps
        return max(0.0, min(block, frame) - now)

    def _frame(self, index: int, now: float) -> None:
        self._update_subtitle(now)
        if self.frame is None or self.scene != self.drawn:
            image = self.renderer.render(self.scene)
            rgb = VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            self.frame = rgb.reformat(format="yuv420p")
            self.drawn = self.scene
        self.skipped += index - self.next_frame
        self.stream.write_video(self.frame, index)
        self.frames += 1
        self.next_frame = index + 1

    def _update_subtitle(self, now: float) -> None:
        for uid, caption in list(self.captions.items()):
            if caption.at + CAPTION_WAIT_S <= now:
                self.cues.append((now, self.captions.pop(uid).text))
        subtitle = self.scene.subtitle
        while self.cues and self.cues[0][0] <= now:
            subtitle = self.cues.popleft()[1]
        if now > self.audio_until + HOLD_S and not self.cues:
            subtitle = ""
        self.scene = replace(self.scene, subtitle=subtitle)

    def report(self) -> Report:
        return Report(
            state="live",
            bytes_out=self.stream.bytes_out,
            audio_s=round(self.timeline.read_at / self.timeline.rate, 3),
            video_frames=self.frames,
            frames_skipped=self.skipped,
            dropped_audio_s=round(self.timeline.dropped_s, 3),
            cpu_s=round(time.process_time(), 3),
        )


def _read(stdin: BinaryIO, inbox: Inbox) -> None:
    """Messages from the service until it closes the pipe (that is how it says stop)."""
    try:
        while (message := read_message(stdin)) is not None:
            inbox.put(message)
    finally:
        inbox.put(None)


def _take_waiting(inbox: Inbox, pusher: Pusher, timeout: float) -> bool:
    """Hand the pusher every waiting message, waiting up to ``timeout`` for the first one;
    False once the service said stop."""
    try:
        item = inbox.get(timeout=timeout)
        while item is not None:
            pusher.take(*item)
            item = inbox.get_nowait()
        return False
    except queue.Empty:
        return True


def run(start: Start, stdin: BinaryIO, out: TextIO) -> int:
    def say(report: Report) -> None:
        out.write(report.model_dump_json() + "\n")
        out.flush()

    inbox: Inbox = queue.Queue(maxsize=256)
    threading.Thread(target=_read, args=(stdin, inbox), name="push-reader", daemon=True).start()
    say(Report(state="connecting"))
    # FFmpeg says why a connection failed (a name that does not resolve, the server's
    # refusal) only in its log; PyAV passes the log on once a level is set.
    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture() as logs:
        try:
            stream = FlvStream(start.url, start.settings)
        except (av.error.FFmpegError, OSError, *PERMANENT) as exc:
            said = "".join(f"; {name}: {message.strip()}" for _, name, message in logs[:3])
            error = scrubbed(f"connect failed: {exc}{said}", start.url)
            say(Report(state="ended", error=error, permanent=isinstance(exc, PERMANENT)))
            return 1
    pusher = Pusher(stream, start, time.monotonic())
    say(pusher.report())
    next_report = time.monotonic() + REPORT_EVERY_S
    try:
        while _take_waiting(inbox, pusher, pusher.due_in(time.monotonic())):
            now = time.monotonic()
            pusher.advance(now)
            if now >= next_report:
                say(pusher.report())
                next_report = now + REPORT_EVERY_S
    except (av.error.FFmpegError, OSError) as exc:
        stream.abort()
        say(
            pusher.report().model_copy(
                update={"state": "ended", "error": scrubbed(str(exc), start.url)}
            )
        )
        return 1
    stream.close()
    say(pusher.report().model_copy(update={"state": "ended"}))
    return 0


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # Unbuffered: the reader thread may still be blocked in a read when the process exits,
    # and a buffered reader's lock held then aborts the interpreter's shutdown.
    stdin = open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)  # noqa: SIM115
    start = read_start(stdin)
    return 0 if start is None else run(start, stdin, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
