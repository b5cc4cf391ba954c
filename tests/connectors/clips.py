"""Synthetic H.264 clips (one solid colour per second), JPEG helpers and an RTMP publisher."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

# Far apart in every channel, so JPEG and scaling leave no doubt which one a frame shows.
COLOURS = [(230, 30, 30), (30, 200, 30), (30, 30, 230), (240, 240, 240)]
FPS = 25
SIZE = (320, 240)
GOP_S = 2  # a key frame every 2 s: at 0 s and 2 s in a 4 s clip


def make_clip(
    path: Path,
    *,
    format: str | None = None,
    options: dict[str, str] | None = None,
    pictures: list[npt.NDArray[np.uint8]] | None = None,
    fps: int = FPS,
) -> Path:
    """A clip of one second per picture (default: second ``i`` all ``COLOURS[i]`` at ``SIZE``),
    key frames every ``GOP_S`` and never at a picture change."""
    if pictures is None:
        pictures = [np.full((SIZE[1], SIZE[0], 3), c, dtype=np.uint8) for c in COLOURS]
    gop = GOP_S * fps
    with av.open(str(path), "w", format=format, options=options or {}) as out:
        stream = out.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "ultrafast",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
            },
        )
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for i in range(len(pictures) * fps):
            frame = av.VideoFrame.from_ndarray(pictures[i // fps], format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def served(folder: Path, name: str = "index.m3u8") -> Iterator[str]:
    """``folder`` over HTTP on loopback (an HLS origin); yields the URL of ``name`` in it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=partial(server.serve_forever, 0.05), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def decode_jpeg(data: bytes) -> av.VideoFrame:
    codec = av.CodecContext.create("mjpeg", "r")
    (frame,) = codec.decode(av.Packet(data))
    return frame


def colour_of(data: bytes) -> int:
    """Which of ``COLOURS`` a JPEG shows."""
    mean = decode_jpeg(data).to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    distances = [float(np.abs(mean - np.array(colour)).sum()) for colour in COLOURS]
    return distances.index(min(distances))


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    """A solid-colour JPEG made with FFmpeg's encoder."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = *size, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    rgb = np.full((size[1], size[0], 3), colour, dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p")
    frame.pts = 0
    return b"".join(bytes(packet) for packet in codec.encode(frame))


def publish(url: str, clip: Path, connect_within_s: float = 10.0) -> None:
    """Push ``clip`` to ``url`` in real time, as an encoder would; the listener may not be up yet.

    Run in a process of its own: PyAV opens an output's connection holding the GIL, which would
    stall a listener's interrupt callback in the same process."""
    deadline = time.monotonic() + connect_within_s
    with av.open(str(clip)) as src:
        video = src.streams.video[0]
        while True:
            out = av.open(url, "w", format="flv")
            pushed = out.add_stream_from_template(video)
            try:
                out.start_encoding()
                break
            except ConnectionRefusedError:
                out.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        start = time.monotonic()
        with out:
            for packet in src.demux(video):
                if packet.dts is None:
                    continue
                ahead = float(packet.dts * packet.time_base) - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
                packet.stream = pushed
                out.mux(packet)


if __name__ == "__main__":
    publish(sys.argv[1], Path(sys.argv[2]))
