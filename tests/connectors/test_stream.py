"""The stream connector on synthetic H.264 clips: a file, HLS over HTTP, an RTMP push, failures."""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("av")

from assistant.connectors.base import ConnectorError, SourceEnded
from assistant.connectors.specs import StreamSpec
from assistant.connectors.stream import StreamConnector
from tests.connectors.clips import colour_of, decode_jpeg, make_clip, served
from tests.fakes.connector_sink import RecordingSink

ROOT = Path(__file__).resolve().parents[2]
# a 4 s clip sampled at 2 fps of media time: two frames of each second's colour, in order
HALF_SECONDS = [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def outcome(sink: RecordingSink, timeout: float = 20, **spec: Any) -> ConnectorError:
    """How a run on ``spec`` ends: always a ConnectorError (``SourceEnded`` at the end)."""
    connector = StreamConnector(StreamSpec.model_validate(spec))
    with pytest.raises(ConnectorError) as info:
        await asyncio.wait_for(connector.run(sink), timeout)
    return info.value


@pytest.fixture
def hls_url(tmp_path: Path) -> Iterator[str]:
    """The clip as a VOD HLS playlist of 2 s segments, served over HTTP on loopback."""
    options = {"hls_time": "2", "hls_playlist_type": "vod"}
    make_clip(tmp_path / "index.m3u8", format="hls", options=options)
    with served(tmp_path) as url:
        yield url


@pytest.mark.slow
async def test_a_file_is_sampled_by_media_time_and_paced_like_a_live_stream(clip: Path) -> None:
    sink = RecordingSink()
    start = time.monotonic()
    ended = await outcome(sink, url=str(clip), fps=2, width=160)
    elapsed = time.monotonic() - start
    assert isinstance(ended, SourceEnded)
    assert [colour_of(frame) for frame in sink.frames] == HALF_SECONDS
    assert 3.0 <= elapsed <= 5.0, elapsed  # samples at 0 s ... 3.5 s of media, held to the clock
    assert all(frame.startswith(b"\xff\xd8") for frame in sink.frames)
    scaled = decode_jpeg(sink.frames[0])
    assert (scaled.width, scaled.height) == (160, 120)
    assert sink.connects == ["h264 320x240"]
    assert sink.drops == []


@pytest.mark.slow
async def test_keyframes_only_decodes_the_key_frames_alone(clip: Path) -> None:
    sink = RecordingSink()
    ended = await outcome(sink, url=str(clip), fps=10, keyframes_only=True)
    assert isinstance(ended, SourceEnded)
    # 40 samples at 10 fps otherwise; the key frames are at 0 s and 2 s
    assert [colour_of(frame) for frame in sink.frames] == [0, 2]


@pytest.mark.slow
async def test_hls_over_http_is_sampled_like_the_file(hls_url: str) -> None:
    sink = RecordingSink()
    ended = await outcome(sink, url=hls_url, fps=2)
    assert isinstance(ended, SourceEnded)
    assert [colour_of(frame) for frame in sink.frames] == HALF_SECONDS


@pytest.mark.slow
async def test_an_rtmp_push_is_sampled_and_ends_when_the_publisher_leaves(clip: Path) -> None:
    url = f"rtmp://127.0.0.1:{free_port()}/live/key"
    # an encoder of its own (OBS stands here): it pushes in real time, then leaves
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.connectors.clips", url, str(clip), cwd=ROOT
    )
    sink = RecordingSink()
    try:
        ended = await outcome(sink, url=url, fps=2, listen=True)
        assert await publisher.wait() == 0
    finally:
        if publisher.returncode is None:
            publisher.kill()
            await publisher.wait()
    assert isinstance(ended, SourceEnded)
    colours = [colour_of(frame) for frame in sink.frames]
    # live: the probe's buffered second arrives at once and the newest sample wins
    assert colours == sorted(colours) and set(colours) == {0, 1, 2, 3}
    assert 6 <= len(colours) <= 8, colours


async def test_a_url_nothing_listens_on_is_retried() -> None:
    port = free_port()
    for url in (f"rtmp://127.0.0.1:{port}/live/key", f"http://127.0.0.1:{port}/live.flv"):
        start = time.monotonic()
        error = await outcome(RecordingSink(), url=url, open_timeout_s=1)
        assert error.retryable and not isinstance(error, SourceEnded)
        assert time.monotonic() - start < 1.0


async def test_a_server_that_never_answers_is_retried_after_the_open_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"rtmp://127.0.0.1:{silent.getsockname()[1]}/live/key"
        start = time.monotonic()
        error = await outcome(RecordingSink(), url=url, open_timeout_s=0.5)
        elapsed = time.monotonic() - start
    assert error.retryable
    assert 0.4 <= elapsed < 1.5, elapsed


async def test_listening_without_a_push_is_retried_after_the_open_timeout() -> None:
    url = f"rtmp://127.0.0.1:{free_port()}/live/key"
    error = await outcome(RecordingSink(), url=url, listen=True, open_timeout_s=0.5)
    assert error.retryable
    assert "no push" in error.message


@pytest.fixture
def damaged(clip: Path, tmp_path: Path) -> Path:
    """The clip with two runs of noise over its encoded pictures."""
    data = bytearray(clip.read_bytes())
    noise = random.Random(7)
    for start in (len(data) // 3, len(data) // 2):
        data[start : start + 400] = noise.randbytes(400)
    path = tmp_path / "damaged.mp4"
    path.write_bytes(data)
    return path


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(random.Random(3).randbytes(4096))
    return path


@pytest.mark.slow
async def test_corrupt_bytes_in_a_file_are_dropped_not_fatal(damaged: Path) -> None:
    sink = RecordingSink()
    ended = await outcome(sink, url=str(damaged), fps=2)
    assert isinstance(ended, SourceEnded)
    assert sink.drops and set(sink.drops) == {"corrupt"}
    assert sink.frames  # what could be decoded still came through


async def test_files_that_are_missing_or_not_media_are_final(tmp_path: Path, garbage: Path) -> None:
    for path in (tmp_path / "missing.mp4", garbage):
        error = await outcome(RecordingSink(), url=str(path))
        assert not error.retryable


def test_urls_ffmpeg_would_read_local_descriptors_with_are_refused() -> None:
    for url in ("pipe:0", "fd:3", "concat:/etc/passwd|/etc/hosts", "ftp://example.com/a.flv"):
        with pytest.raises(ConnectorError) as info:
            StreamConnector(StreamSpec(url=url))
        assert not info.value.retryable


async def test_cancelling_stops_the_decoder_thread(clip: Path) -> None:
    before = set(threading.enumerate())
    sink = RecordingSink()
    task = asyncio.create_task(StreamConnector(StreamSpec(url=str(clip), fps=2)).run(sink))
    await sink.until(lambda: len(sink.frames) >= 1)
    (decoder,) = [t for t in set(threading.enumerate()) - before if t.name == "stream-decoder"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.to_thread(decoder.join, 1.0)
    assert not decoder.is_alive()
