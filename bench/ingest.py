"""Video ingest cost: CPU per room at 1 fps from a 720p HLS stream, against decoding every frame."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.container import OutputContainer

from assistant.connectors.base import ConnectorError
from assistant.connectors.specs import StreamSpec
from assistant.connectors.stream import StreamConnector
from tests.connectors.clips import served
from tests.fakes.connector_sink import RecordingSink

WIDTH, HEIGHT, FPS = 1280, 720, 25


def make_720p(path: Path, seconds: int) -> None:
    """An HLS playlist of a moving 720p picture (a gradient that scrolls, text-like stripes),
    H.264 at 25 fps with a key frame every 2 s, as a phone or OBS would push it."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    options = {"hls_time": "2", "hls_playlist_type": "vod"}
    with av.open(str(path), "w", format="hls", options=options) as out:
        assert isinstance(out, OutputContainer)
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "g": "50"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(seconds * FPS):
            shift = i * 8
            rgb = np.stack(
                [(xs + shift) % 256, (ys + shift // 2) % 256, ((xs // 40 + ys // 20) % 2) * 200],
                axis=-1,
            ).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


async def connector_cost(url: str, keyframes_only: bool) -> dict[str, float]:
    """CPU seconds the process spends per wall second while a connector ingests ``url``."""
    sink = RecordingSink()
    spec = StreamSpec(url=url, fps=1, keyframes_only=keyframes_only)
    cpu, wall = time.process_time(), time.perf_counter()
    with contextlib.suppress(ConnectorError):  # SourceEnded at the playlist's end
        await StreamConnector(spec).run(sink)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cores": round(cpu / wall, 3), "frames": len(sink.frames), "wall_s": round(wall, 1)}


def bare_decode_cost(url: str) -> dict[str, float]:
    """The naive ingest: every frame decoded (and nothing else), CPU per media second."""
    cpu = time.process_time()
    frames = 0
    with av.open(url) as container:
        for _ in container.decode(video=0):
            frames += 1
    return {"cpu_per_media_s": round((time.process_time() - cpu) / (frames / FPS), 3)}


async def ingest_figures(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        await asyncio.to_thread(make_720p, folder / "index.m3u8", int(seconds))
        with served(folder) as url:
            every = await asyncio.to_thread(bare_decode_cost, url)
            full = await connector_cost(url, keyframes_only=False)
            keys = await connector_cost(url, keyframes_only=True)
    out = {"media_s": int(seconds), "decode_all_frames": every, "sampled": full, "keyframes": keys}
    print(
        f"ingest    720p HLS at 1 fps: {full['cores']} core (key frames only {keys['cores']});"
        f" decoding every frame as fast as it can: {every['cpu_per_media_s']} CPU s per media s"
    )
    return out
