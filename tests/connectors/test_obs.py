"""The OBS connector against a fake obs-websocket v5 server on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

pytest.importorskip("av")  # only to make the JPEG the fake OBS serves

from pydantic import SecretStr

from assistant.connectors.base import ConnectorError
from assistant.connectors.obs import ObsConnector
from assistant.connectors.specs import ObsSpec
from tests.connectors.clips import COLOURS, jpeg
from tests.fakes.connector_sink import RecordingSink
from tests.fakes.obs_server import FakeObs

JPEG = jpeg(COLOURS[1])


def spec(fake: FakeObs, **overrides: Any) -> ObsSpec:
    return ObsSpec.model_validate({"url": fake.url, "fps": 10, "width": 640} | overrides)


@asynccontextmanager
async def running(connector: ObsConnector, sink: RecordingSink) -> AsyncIterator[None]:
    task = asyncio.create_task(connector.run(sink))
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def failure(connector: ObsConnector) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        await asyncio.wait_for(connector.run(RecordingSink()), 5)
    return info.value


async def test_screenshots_of_the_program_scene_arrive_at_the_configured_rate() -> None:
    sink = RecordingSink()
    async with FakeObs(JPEG, password="hunter2", scene="Live") as fake:
        connector = ObsConnector(spec(fake, password=SecretStr("hunter2")))
        async with running(connector, sink):
            await sink.until(lambda: len(sink.frames) >= 1)
            start = time.monotonic()
            await sink.until(lambda: len(sink.frames) >= 11)
            elapsed = time.monotonic() - start
    assert 0.7 <= elapsed <= 1.6, elapsed  # ten intervals at 10 fps
    assert sink.connects == ["obs-websocket 5.5.4"]
    assert all(frame == JPEG for frame in sink.frames)
    shots = fake.of("GetSourceScreenshot")
    assert shots[0] == {
        "requestType": "GetSourceScreenshot",
        "sourceName": "Live",
        "imageFormat": "jpg",
        "imageWidth": 640,
    }
    # the program scene is looked up before each shot, so a scene switch is followed
    assert len(fake.of("GetCurrentProgramScene")) >= len(shots) >= 11


async def test_a_named_source_is_shot_without_asking_for_the_scene() -> None:
    sink = RecordingSink()
    async with FakeObs(JPEG) as fake, running(ObsConnector(spec(fake, source="Camera")), sink):
        await sink.until(lambda: len(sink.frames) >= 2)
    assert {shot["sourceName"] for shot in fake.of("GetSourceScreenshot")} == {"Camera"}
    assert fake.of("GetCurrentProgramScene") == []


async def test_a_wrong_password_is_final() -> None:
    async with FakeObs(JPEG, password="hunter2") as fake:
        error = await failure(ObsConnector(spec(fake, password=SecretStr("hunter3"))))
    assert not error.retryable
    assert "password" in error.message


async def test_a_password_asked_for_but_not_set_is_final() -> None:
    async with FakeObs(JPEG, password="hunter2") as fake:
        error = await failure(ObsConnector(spec(fake)))
    assert not error.retryable


async def test_a_missing_source_is_final() -> None:
    async with FakeObs(JPEG) as fake:
        error = await failure(ObsConnector(spec(fake, source="Nope")))
    assert not error.retryable
    assert "600" in error.message


async def test_a_dropped_connection_is_retried() -> None:
    sink = RecordingSink()
    async with FakeObs(JPEG) as fake:
        task = asyncio.create_task(ObsConnector(spec(fake)).run(sink))
        await sink.until(lambda: len(sink.frames) >= 2)
        fake.drop()
        with pytest.raises(ConnectorError) as info:
            await asyncio.wait_for(task, 5)
    assert info.value.retryable


async def test_obs_not_running_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = ObsConnector(ObsSpec(url=f"ws://127.0.0.1:{port}"))
    with pytest.raises(ConnectorError) as info:
        await asyncio.wait_for(connector.run(RecordingSink()), 5)
    assert info.value.retryable


async def test_an_image_that_is_not_a_data_uri_is_dropped() -> None:
    sink = RecordingSink()
    fake = FakeObs("data:image/jpg;base64,@@not base64@@")
    async with fake, running(ObsConnector(spec(fake)), sink):
        await sink.until(lambda: len(sink.drops) >= 2)
    assert set(sink.drops) == {"malformed"}
    assert sink.frames == []
