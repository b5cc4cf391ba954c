"""A loopback RTMP server for push tests: PyAV listening in a thread, recording what arrives."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import av.error
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer

# How long a connected publisher may send nothing before its session counts as ended.
READ_WAIT_S = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Packet:
    kind: str  # "audio" or "video"
    session: int  # which connection (0, 1, ...) it came on
    pts_s: float
    duration_s: float
    size: int
    keyframe: bool
    arrived: float  # time.monotonic() when it was read


@dataclass(frozen=True)
class Sound:
    """One decoded AAC frame: when it plays in its stream and how loud it is."""

    session: int
    pts_s: float
    duration_s: float
    rms: float


@dataclass
class Session:
    format: str
    codecs: dict[str, str]  # stream kind -> codec name
    extradata: dict[str, int] = field(default_factory=dict)  # kind -> bytes of codec config


class RtmpListener:
    """Accepts RTMP publishers on ``url``, one after another, until ``stop``; records every
    packet and the decoded audio's loudness. Tests wait on it with ``wait_for``."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"rtmp://127.0.0.1:{self.port}/live/x"
        self.packets: list[Packet] = []
        self.sounds: list[Sound] = []
        self.sessions: list[Session] = []
        self.ended_sessions = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rtmp-listener", daemon=True)

    def start(self) -> RtmpListener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Go away: the connected publisher's next write fails."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            # A listen waiting for a publisher has no timeout (one that expired mid-handshake
            # would reset a publisher that came just then): a connection that says nothing
            # ends it; again, in case the listener was between two listens.
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                pass
            self._thread.join(0.2)
        assert not self._thread.is_alive(), "the listener did not stop"

    def wait_for(self, condition: Callable[[RtmpListener], bool], timeout: float) -> bool:
        """Block until ``condition(self)`` holds (checked on every packet), or the timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self), timeout)

    def audio(self, session: int | None = None) -> list[Packet]:
        with self._changed:
            return [p for p in self.packets if p.kind == "audio" and session in (None, p.session)]

    def video(self, session: int | None = None) -> list[Packet]:
        with self._changed:
            return [p for p in self.packets if p.kind == "video" and session in (None, p.session)]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                # A tiny probe: the FLV header names both streams, so reading on from there
                # makes packets arrive as they are sent instead of after seconds of probing.
                container = av.open(
                    self.url,
                    options={"listen": "1", "probesize": "32"},
                    timeout=(None, READ_WAIT_S),
                )
            except (av.error.FFmpegError, OSError):
                continue  # nobody came (or a publisher gave up mid-handshake): listen again
            try:
                self._record(container, len(self.sessions))
            finally:
                container.close()
                with self._changed:
                    self.ended_sessions += 1
                    self._changed.notify_all()

    def _record(self, container: InputContainer, session: int) -> None:
        with self._changed:
            self.sessions.append(
                Session(
                    format=container.format.name,
                    codecs={s.type: s.codec_context.name for s in container.streams},
                    extradata={s.type: s.codec_context.extradata_size for s in container.streams},
                )
            )
            self._changed.notify_all()
        try:
            for packet in container.demux():
                if self._stop.is_set():
                    return
                arrived = time.monotonic()
                if packet.size == 0 or packet.pts is None or packet.time_base is None:
                    continue
                stream = packet.stream
                received = Packet(
                    kind=stream.type,
                    session=session,
                    pts_s=float(packet.pts * packet.time_base),
                    duration_s=float((packet.duration or 0) * packet.time_base),
                    size=packet.size,
                    keyframe=packet.is_keyframe,
                    arrived=arrived,
                )
                sounds = []
                if isinstance(stream, AudioStream):
                    sounds = self._loudness(stream.decode(packet), session)
                with self._changed:
                    self.packets.append(received)
                    self.sounds += sounds
                    self._changed.notify_all()
        except (av.error.FFmpegError, OSError):
            pass  # the publisher left (PyAV reports it as EIO): the end of this session

    @staticmethod
    def _loudness(frames: list[av.AudioFrame], session: int) -> list[Sound]:
        sounds: list[Sound] = []
        for frame in frames:
            samples = frame.to_ndarray().astype(np.float64)
            rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
            base = frame.time_base
            pts = float(frame.pts * base) if frame.pts is not None and base is not None else 0.0
            sounds.append(Sound(session, pts, frame.samples / frame.sample_rate, rms))
        return sounds
