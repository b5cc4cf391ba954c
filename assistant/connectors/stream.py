"""A video stream or file (RTMP, HLS, HTTP-FLV, a path) decoded with PyAV into sampled JPEGs."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TypeVar
from urllib.parse import urlsplit

import av
from av.codec.context import CodecContext
from av.container import InputContainer
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from assistant.connectors.base import ConnectorError, ConnectorKind, Sink, SourceEnded
from assistant.connectors.specs import StreamSpec

log = logging.getLogger(__name__)

NETWORK_SCHEMES = frozenset({"rtmp", "rtmps", "http", "https"})
# What FFmpeg may open on the way (HLS segments and keys, TLS under RTMPS and HTTPS): a posted
# URL must never reach pipe:, fd:, concat: or subfile:, which read the service's own files.
NETWORK_PROTOCOLS = "http,https,tcp,tls,rtmp,rtmps,crypto,httpproxy"
LOCAL_PROTOCOLS = "file"
# Probing a live stream for its codec parameters holds the first frame back by this much media.
ANALYZE_US = "1000000"
JPEG_QSCALE = 5  # MJPEG's scale: 2 is best, 31 worst; 5 keeps on-screen text legible
MAX_CORRUPT_IN_A_ROW = 50  # demuxer errors without one good packet: the source is not media
EPSILON_S = 1e-3  # frame times are rationals rounded to float

_T = TypeVar("_T")


class StreamConnector:
    """Feeds a room the newest frame of a video source, ``spec.fps`` frames per second of media.

    Decoding runs in a thread of its own (it is blocking and CPU heavy) and hands JPEG frames to
    the loop through a one-frame slot where the newest wins. Frames are picked by their
    presentation timestamps, so a burst of buffered video yields the same samples as a steady
    one. A source with a known duration (a file, a VOD playlist) is a recording standing in for a
    live stream: it is decoded as fast as needed but its samples are held to wall-clock time.

    Each blocking FFmpeg step (connect, probe, every read) gives up after ``open_timeout_s``
    through PyAV's interrupt callback: a dead URL or a stalled stream is a retryable error. The
    end of a file, or the publisher leaving, is ``SourceEnded``. With ``spec.listen`` the
    connector is the server an encoder pushes to (``rtmp://0.0.0.0:1935/live/key`` in OBS) and
    it waits ``open_timeout_s`` for the push before the manager retries with backoff.

    Cancelling ``run`` returns at once; the thread sees its stop flag before the next packet (or
    within ``open_timeout_s`` while a read is blocked) and closes the container itself, so a
    blocked read is never freed under FFmpeg's feet."""

    kind: ConnectorKind = "stream"

    def __init__(self, spec: StreamSpec) -> None:
        scheme = urlsplit(spec.url).scheme.lower()
        if scheme not in NETWORK_SCHEMES | {"", "file"}:
            raise ConnectorError(f"unsupported stream URL scheme {scheme!r}", retryable=False)
        self.spec = spec
        self.local = scheme in {"", "file"}

    async def run(self, sink: Sink) -> None:
        handoff = _Handoff(asyncio.get_running_loop(), sink)
        decoder = _Decoder(self.spec, self.local, handoff)
        threading.Thread(target=decoder.run, name="stream-decoder", daemon=True).start()
        try:
            while True:
                await handoff.changed.wait()
                handoff.changed.clear()
                if handoff.frame is not None:
                    data, handoff.frame = handoff.frame, None
                    await sink.frame(data)
                if handoff.outcome is not None:
                    raise handoff.outcome
        finally:
            handoff.stop.set()


class _Handoff:
    """The worker thread's way into the loop: a one-frame slot (newest wins) and the outcome.

    Its state changes only on the loop's thread, through ``call_soon_threadsafe``; once ``stop``
    is set (run was cancelled) nothing more reaches the sink."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Sink) -> None:
        self.loop = loop
        self.sink = sink
        self.stop = threading.Event()
        self.changed = asyncio.Event()
        self.frame: bytes | None = None
        self.outcome: ConnectorError | None = None

    def post_frame(self, data: bytes) -> None:
        self._call(self._set_frame, data)

    def connected(self, detail: str) -> None:
        self._call(self.sink.connected, detail)

    def dropped(self, reason: str) -> None:
        self._call(self.sink.dropped, reason)

    def finish(self, outcome: ConnectorError) -> None:
        self._call(self._set_outcome, outcome)

    def _set_frame(self, data: bytes) -> None:
        self.frame = data
        self.changed.set()

    def _set_outcome(self, outcome: ConnectorError) -> None:
        self.outcome = outcome
        self.changed.set()

    def _call(self, callback: Callable[[_T], object], arg: _T) -> None:
        if self.stop.is_set():
            return
        # the loop may have closed after run was cancelled: then nobody is waiting
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._deliver, callback, arg)

    def _deliver(self, callback: Callable[[_T], object], arg: _T) -> None:
        if not self.stop.is_set():
            callback(arg)


class _Decoder:
    """The worker thread: open, demux, decode, sample, pace, scale, encode, hand over."""

    def __init__(self, spec: StreamSpec, local: bool, handoff: _Handoff) -> None:
        self.spec = spec
        self.local = local
        self.handoff = handoff
        self.stop = handoff.stop

    def run(self) -> None:
        try:
            self._decode()
        except ConnectorError as exc:
            self.handoff.finish(exc)
        except Exception as exc:  # a surprise from FFmpeg must still end run, not the thread alone
            log.exception("stream decoder failed")
            self.handoff.finish(ConnectorError(f"stream decoder failed: {exc}"))

    def _decode(self) -> None:
        container = self._open()
        try:
            if not container.streams.video:
                raise ConnectorError("the source has no video stream", retryable=False)
            stream = container.streams.video[0]
            codec = stream.codec_context
            if self.spec.keyframes_only:
                codec.skip_frame = "NONKEY"
            recording = bool(container.duration)  # live RTMP reports 0, live HLS none
            pacer = _Pacer(self.stop) if recording else None
            self.handoff.connected(f"{codec.name} {codec.width}x{codec.height}")
            sampler = _Sampler(self.spec.fps)
            jpeg = _Jpeg(self.spec.width)
            for packet in self._packets(container, stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    self.handoff.dropped("corrupt")
                    continue
                for frame in frames:
                    if frame.time is None or not sampler.due(frame.time):
                        continue
                    if pacer is not None:
                        pacer.wait(frame.time)
                    if self.stop.is_set():
                        return
                    self.handoff.post_frame(jpeg.encode(frame))
            if not self.stop.is_set():
                raise SourceEnded("the stream ended")
        finally:
            container.close()

    def _open(self) -> InputContainer:
        spec = self.spec
        options = {
            "protocol_whitelist": LOCAL_PROTOCOLS if self.local else NETWORK_PROTOCOLS,
            "analyzeduration": ANALYZE_US,
        }
        if spec.listen:
            options["listen"] = "1"
        try:
            return av.open(spec.url, "r", options=options, timeout=spec.open_timeout_s)
        except av.error.ExitError as exc:
            what = "no push came" if spec.listen else "no answer"
            raise ConnectorError(f"{what} within {spec.open_timeout_s:g} s") from exc
        except av.error.ProtocolNotFoundError as exc:
            raise ConnectorError("FFmpeg cannot open this URL", retryable=False) from exc
        except av.error.FFmpegError as exc:
            # a file reads the same on every try; a network source may come back
            reason = exc.strerror or type(exc).__name__
            raise ConnectorError(
                f"cannot open the source: {reason}", retryable=not self.local
            ) from exc

    def _packets(
        self, container: InputContainer, stream: VideoStream
    ) -> Iterator[Packet[VideoStream]]:
        """The stream's packets until the stop flag, the end or a failure; a demuxer error on
        damaged data is counted and reading goes on past it."""
        corrupt = 0
        while not self.stop.is_set():
            try:
                for packet in container.demux(stream):
                    if self.stop.is_set():
                        return
                    corrupt = 0
                    yield packet
                return
            except av.error.InvalidDataError as exc:
                corrupt += 1
                if corrupt > MAX_CORRUPT_IN_A_ROW:
                    message = "the source is not readable media"
                    raise ConnectorError(message, retryable=not self.local) from exc
                self.handoff.dropped("corrupt")
            except av.error.ExitError as exc:
                raise ConnectorError(f"no data for {self.spec.open_timeout_s:g} s") from exc
            except av.error.FFmpegError as exc:
                # a listening connector reads the publisher's own connection: its close is the end
                if self.spec.listen and exc.errno == errno.EIO:
                    return
                raise ConnectorError(f"reading the source failed: {exc.strerror}") from exc


class _Sampler:
    """Picks the first frame at or after each 1/fps step of media time."""

    def __init__(self, fps: float) -> None:
        self.step = 1.0 / fps
        self.next: float | None = None

    def due(self, t: float) -> bool:
        if self.next is None or t < self.next - self.step - EPSILON_S:
            self.next = t  # the first frame, or timestamps that started over (a new publisher)
        elif t < self.next - EPSILON_S:
            return False
        self.next += self.step * (math.floor((t + EPSILON_S - self.next) / self.step) + 1)
        return True


class _Pacer:
    """Holds a recording's samples to wall-clock time, so it plays like the live stream it stands
    in for; the wait ends early on the stop flag."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.origin: tuple[float, float] | None = None  # (wall clock, media time) of the start

    def wait(self, t: float) -> None:
        now = time.monotonic()
        if self.origin is None or t < self.origin[1]:
            self.origin = (now, t)
        delay = self.origin[0] + (t - self.origin[1]) - now
        if delay > 0:
            self.stop.wait(delay)


class _Jpeg:
    """Scales frames to at most ``width`` wide and encodes them with FFmpeg's own JPEG encoder,
    so the connector needs PyAV alone."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.codec: VideoCodecContext | None = None
        self.count = 0

    def encode(self, frame: VideoFrame) -> bytes:
        width = min(self.width, frame.width) // 2 * 2
        height = max(2, round(frame.height * width / frame.width) // 2 * 2)
        codec = self.codec
        if codec is None or (codec.width, codec.height) != (width, height):
            codec = self.codec = self._open(width, height)
        scaled = frame.reformat(width=width, height=height, format="yuvj420p")
        # the encoder wants rising timestamps in its own time base; media time may jump back
        scaled.pts, scaled.time_base = self.count, codec.time_base
        self.count += 1
        return b"".join(bytes(packet) for packet in codec.encode(scaled))

    @staticmethod
    def _open(width: int, height: int) -> VideoCodecContext:
        codec = CodecContext.create("mjpeg", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
        codec.time_base = Fraction(1, 1000)
        codec.qscale = True
        codec.global_quality = JPEG_QSCALE
        codec.open()
        return codec
