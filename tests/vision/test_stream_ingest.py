"""A live stream into a room's vision: an H.264 clip served as HLS, read by the stream connector
at 1 frame a second, and the room's vision updates following what the clip shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from assistant.catalog import Catalog
from assistant.connectors.specs import StreamSpec
from assistant.events import VisionUpdate
from assistant.rooms import RoomCreate
from assistant.runtime import Runtime
from tests.conftest import DEMO_CATALOG, make_settings
from tests.vision.conftest import model_dir, render_frame
from vision.settings import VisionSettings

pytest.importorskip("av")
from tests.connectors.clips import make_clip, served

pytestmark = pytest.mark.slow
SERUM, CUP = "BT-SERUM-HA-30", "HM-CUP-316-500"
SHOWS = [(SERUM, ["玻尿酸保湿精华液 30ml", "直播价 ¥229"])] * 4 + [
    (CUP, ["316不锈钢保温杯 500ml"])
] * 4


async def test_the_rooms_vision_follows_a_stream_at_the_configured_rate(
    tmp_path: Path, vision_settings: VisionSettings
) -> None:
    hls = tmp_path / "hls"
    hls.mkdir()
    pictures = [render_frame(lines) for _, lines in SHOWS]
    options = {"hls_time": "2", "hls_playlist_type": "vod"}
    await asyncio.to_thread(make_clip, hls / "index.m3u8", format="hls", options=options,
                            pictures=pictures, fps=5)  # fmt: skip
    settings = make_settings(
        tmp_path, capabilities=["vision"], vision=vision_settings, model_dir=model_dir().parent
    )
    rt = await Runtime.start(settings)
    try:
        catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))
        room_id = (await rt.rooms.create(RoomCreate(title="直播"), catalog)).room_id
        updates = await rt.services.bus.subscribe(room_id, ["vision.update"])
        with served(hls) as url:
            running = await rt.connectors.start(room_id, StreamSpec(url=url, fps=1))
            assert running.task is not None
            await asyncio.wait_for(running.task, 60)
        assert running.status.state == "ended", running.status
        seen: list[VisionUpdate] = []
        async with asyncio.timeout(60):  # the last frames' passes finish after the stream ends
            while len(seen) < running.status.received:
                event = await updates.get()
                assert isinstance(event, VisionUpdate)
                seen.append(event)
    finally:
        await rt.stop()
    # One frame per second of media reached vision (the last may fall past the clip's end).
    assert len(SHOWS) - 1 <= running.status.received <= len(SHOWS) + 1
    on_stage = [u.stage.sku for u in seen]
    # Each product is read and put on stage while it is shown, the serum first, then the cup.
    assert SERUM in on_stage and CUP in on_stage
    assert max(i for i, s in enumerate(on_stage) if s == SERUM) < on_stage.index(CUP)
    assert any("精华液" in line for line in seen[0].ocr_lines)
    assert any("保温杯" in line for line in seen[-1].ocr_lines)
