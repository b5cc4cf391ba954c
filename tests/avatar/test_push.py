"""The anchor push: H.264 + AAC in FLV to a loopback RTMP listener, paced, reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image, ImageDraw

pytest.importorskip("av")

from assistant.bus.memory import MemoryBus
from assistant.errors import AssistantError
from assistant.events import AudioChunk, ProductCard, Subtitle
from assistant.settings import Settings, StoreSettings
from assistant.store import RoomRecord, Store
from avatar.capability import AvatarCapability
from avatar.push.errors import BadPushUrl
from avatar.push.render import CardRenderer, Scene, wrap
from avatar.push.room import PushStatus, RoomPush
from avatar.push.timeline import AudioTimeline
from avatar.push.urls import checked, redacted
from avatar.settings import PushSettings
from tests.avatar.conftest import ROOM
from tests.fakes.avatar_tts import FakeTTS
from tests.fakes.rtmp_listener import Packet, RtmpListener, free_port
from tests.services import core_services

RATE = 24_000
CHUNK_S = 0.5
LOUD = 1000 / 32768  # the decoded RMS above which a frame counts as speech (the tone: 0.17)


def settings(**kw: object) -> PushSettings:
    return PushSettings.model_validate({"backoff_max_s": 2.0, **kw})


class Speaker:
    """Publishes like the anchor: bursts of a 440 Hz tone in 0.5 s chunks, each sent ahead of
    the room's playout clock (``lead_s``), a subtitle per burst; silences between bursts."""

    def __init__(self, bus: MemoryBus, burst_s: float = 1.5, silence_s: float = 1.0) -> None:
        self.bus, self.burst_s, self.silence_s = bus, burst_s, silence_s
        tone = np.sin(np.arange(int(RATE * CHUNK_S)) / RATE * 2 * np.pi * 440) * 8000
        self.chunk = tone.astype("<i2").tobytes()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        title, point = "316不锈钢保温杯 500ml", "12小时保温"
        card = ProductCard(room_id=ROOM, sku="A", title=title, price=129, point=point, stock=9)
        await self.bus.publish(card)
        end, burst = loop.time(), 0
        while True:
            uid = f"script.{burst}.0"
            await self.bus.publish(Subtitle(room_id=ROOM, utterance_id=uid, text=f"第{burst}句"))
            for seq in range(round(self.burst_s / CHUNK_S)):
                now = loop.time()
                await asyncio.sleep(max(0.0, end - now - 0.6))  # keep 0.6 s ahead, as it does
                now = loop.time()
                start = max(now, end)
                lead = round(start - now, 3)
                chunk = AudioChunk(room_id=ROOM, seq=seq, utterance_id=uid, text="",
                                   sample_rate=RATE, data=self.chunk, lead_s=lead)  # fmt: skip
                await self.bus.publish(chunk)
                end = start + CHUNK_S
            await asyncio.sleep(max(0.0, end - loop.time()) + self.silence_s)
            burst += 1


@contextlib.asynccontextmanager
async def speaking(bus: MemoryBus) -> AsyncIterator[Speaker]:
    speaker = Speaker(bus)
    task = asyncio.create_task(speaker.run())
    try:
        yield speaker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def pushing(bus: MemoryBus, url: str, **kw: object) -> AsyncIterator[RoomPush]:
    push = RoomPush(ROOM, url, bus=bus, settings=settings(**kw))
    await push.start()
    try:
        yield push
    finally:
        await push.stop()


async def until(
    listener: RtmpListener, condition: Callable[[RtmpListener], bool], timeout: float
) -> None:
    """Wait in a thread (the loop goes on feeding the push) until the listener has it."""
    assert await asyncio.to_thread(listener.wait_for, condition, timeout), "timed out"


def has_audio(seconds: float) -> Callable[[RtmpListener], bool]:
    def enough(listener: RtmpListener) -> bool:
        audio = [p for p in listener.packets if p.kind == "audio"]
        return bool(audio) and audio[-1].pts_s - audio[0].pts_s >= seconds

    return enough


def check_continuous(audio: list[Packet], tolerance: float, settle_s: float = 0.5) -> None:
    """Stream time keeps to wall time (the slope of arrival over timestamp, once the listener's
    probe, which holds the first packets back, is over), and no timestamp gap over 100 ms."""
    steady = [p for p in audio if p.arrived > audio[0].arrived + settle_s]
    slope = np.polyfit([p.pts_s for p in steady], [p.arrived for p in steady], 1)[0]
    assert abs(slope - 1) < tolerance, f"{slope=}"
    gaps = [b.pts_s - a.pts_s for a, b in itertools.pairwise(audio)]
    assert max(gaps) <= 0.1 and min(gaps) > 0


def runs(listener: RtmpListener) -> list[tuple[bool, float]]:
    """The decoded audio as alternating (loud, seconds) runs."""
    out: list[tuple[bool, float]] = []
    for sound in listener.sounds:
        loud = sound.rms > LOUD
        if out and out[-1][0] == loud:
            out[-1] = (loud, out[-1][1] + sound.duration_s)
        else:
            out.append((loud, sound.duration_s))
    return out


def check_stream(listener: RtmpListener, speaker: Speaker, push: PushStatus) -> None:
    session = listener.sessions[0]
    assert session.format == "flv" and session.codecs == {"video": "h264", "audio": "aac"}
    assert session.extradata["video"] > 0 and session.extradata["audio"] > 0
    keys = [p.pts_s for p in listener.video() if p.keyframe]
    assert len(keys) >= 2
    assert all(abs(b - a - 2.0) < 0.25 for a, b in itertools.pairwise(keys))
    # Each burst comes out whole, once, where the playout clock put it; silence fills between.
    inner = runs(listener)[1:-1]
    assert len(inner) >= 2
    for loud, seconds in inner:
        expected = speaker.burst_s if loud else speaker.silence_s
        assert abs(seconds - expected) < 0.15, inner
    assert push.state == "live" and push.bytes_out > 0 and push.last_error is None


async def test_a_push_carries_h264_and_aac_in_flv_paced_by_the_clock(bus: MemoryBus) -> None:
    listener = RtmpListener().start()
    try:
        async with pushing(bus, listener.url) as push:
            await push.wait_for(lambda s: s.state == "live", 20)
            async with speaking(bus) as speaker:
                await until(listener, has_audio(5.0), 20)
            status = push.status()
    finally:
        listener.stop()
    check_continuous(listener.audio(), tolerance=0.02)
    check_stream(listener, speaker, status)
    assert abs(status.audio_s - listener.audio()[-1].pts_s) < 1.0


@pytest.mark.slow
async def test_a_minute_of_push_keeps_to_wall_time(bus: MemoryBus) -> None:
    listener = RtmpListener().start()
    try:
        async with pushing(bus, listener.url) as push:
            await push.wait_for(lambda s: s.state == "live", 20)
            async with speaking(bus) as speaker:
                await until(listener, has_audio(60.0), 90)
            status = push.status()
    finally:
        listener.stop()
    audio = listener.audio()
    received = audio[-1].pts_s + audio[-1].duration_s - audio[0].pts_s
    wall = audio[-1].arrived - audio[0].arrived
    assert abs(received / wall - 1) < 0.02, f"{received=} {wall=}"
    check_continuous(audio, tolerance=0.01)
    check_stream(listener, speaker, status)
    assert status.frames_skipped == 0 and status.dropped_events == 0


async def test_the_push_reconnects_when_the_listener_comes_back(bus: MemoryBus) -> None:
    first = RtmpListener().start()
    second = RtmpListener(first.port)
    try:
        async with pushing(bus, first.url) as push, speaking(bus):
            await push.wait_for(lambda s: s.state == "live", 20)
            await until(first, has_audio(1.0), 20)
            first.stop()
            gone = await push.wait_for(lambda s: s.state == "reconnecting", 20)
            second.start()
            back = await push.wait_for(lambda s: s.state == "live", 30)
            await until(second, has_audio(2.0), 20)
            after = push.status()
    finally:
        first.stop()
        second.stop()
    assert gone.last_error and gone.connections == 1 and gone.live_since is None
    assert back.connections == 2 and back.reconnects == 1 and back.last_error is not None
    assert after.audio_s > gone.audio_s + 2.0 and after.bytes_out > gone.bytes_out
    assert second.sessions[0].codecs == {"video": "h264", "audio": "aac"}
    # The new connection starts at the current time: its timestamps start again from zero.
    audio = second.audio()
    assert audio[0].pts_s < 0.1
    check_continuous(audio, tolerance=0.05)


@pytest.mark.parametrize(
    "url",
    ["http://example.com/live/key", "rtmp:///live/key", "rtmp://host", "rtmp://host/",
     "rtmp://host:0/live/k", "rtmp://host:70000/live/k", "rtmp://host/live/a key", "live/key"],
)  # fmt: skip
def test_addresses_a_push_cannot_use_are_refused(url: str) -> None:
    with pytest.raises(BadPushUrl):
        checked(url)


def test_the_status_never_shows_the_stream_key() -> None:
    assert checked("rtmps://u:pw@live.example.com:443/app/sk-123?x=1") == (
        "rtmps://u:pw@live.example.com:443/app/sk-123?x=1"
    )
    assert redacted("rtmps://u:pw@live.example.com:443/app/sk-123?x=1") == (
        "rtmps://live.example.com:443/app/***"
    )
    assert redacted("rtmp://h/app") == "rtmp://h/app"


async def test_a_push_to_nowhere_keeps_trying_and_says_why(bus: MemoryBus) -> None:
    url = f"rtmp://127.0.0.1:{free_port()}/live/secret-key"
    async with pushing(bus, url) as push:
        failed = await push.wait_for(lambda s: s.last_error is not None, 20)
        assert failed.state == "reconnecting" and failed.connections == 0
        assert failed.last_error and "refused" in failed.last_error
        assert "secret-key" not in failed.last_error
        assert push.status().state in ("reconnecting", "connecting")
    assert push.status().state == "stopped"


async def test_an_address_ffmpeg_cannot_open_fails_for_good(bus: MemoryBus) -> None:
    async with pushing(bus, "rtmpz://127.0.0.1/live/x") as push:
        status = await push.wait_for(lambda s: s.state == "failed", 20)
    assert status.last_error and "Protocol not found" in status.last_error
    assert status.connections == 0


async def test_a_server_that_never_answers_is_given_up_on(bus: MemoryBus) -> None:
    """The kernel completes the TCP handshake for a socket that listens and never accepts:
    the worker then waits for the RTMP handshake forever, and only a kill ends it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"rtmp://127.0.0.1:{server.getsockname()[1]}/live/x"
        async with pushing(bus, url, stall_s=1.5) as push:
            status = await push.wait_for(lambda s: s.last_error is not None, 20)
    assert status.state == "reconnecting" and status.last_error
    assert "stalled" in status.last_error


def test_the_timeline_places_chunks_on_the_clock_and_fills_silence() -> None:
    rate, origin = 48_000, 100.0
    timeline = AudioTimeline(rate, origin)
    one_s = np.full(RATE, 1000, dtype="<i2").tobytes()  # 1 s at 24 kHz, resampled to 48 kHz
    assert timeline.place(origin + 0.5, one_s, RATE) == rate // 2
    # The next chunk, a little late for where the playout clock put it, continues the last.
    assert timeline.place(origin + 1.53, one_s, RATE) == timeline.end - len(one_s)
    assert timeline.place(origin + 3.0, one_s, RATE) == 3 * rate  # after a gap: on the clock
    audio = timeline.read(5 * rate)
    loud = np.flatnonzero(np.abs(audio) > 500)
    assert abs(loud[0] - rate // 2) < 50 and abs(loud[-1] - 4 * rate) < 50
    assert abs(np.count_nonzero(np.abs(audio) > 500) - 3 * rate) < 200
    assert not audio[int(2.6 * rate) : int(2.9 * rate)].any()  # silence where nothing played
    # Late (its start already read): it plays now. Ended before the timeline began: dropped.
    assert timeline.place(origin + 4.0, one_s, RATE) == 5 * rate
    assert timeline.place(origin - 2.0, one_s, RATE) is None
    assert timeline.dropped_s == 1.0


def test_the_card_wraps_long_text_and_scales_with_the_frame() -> None:
    renderer = CardRenderer(854, 480, None)
    scene = Scene(title="316不锈钢保温杯 " * 12, price=129, list_price=169, point="12小时保温")
    bare = np.asarray(renderer.render(scene))
    spoken = np.asarray(renderer.render(replace(scene, subtitle="这款保温杯真的很好用")))
    assert bare.shape == (480, 854, 3) and (bare != spoken).any()
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    lines = wrap(draw, scene.title, renderer.title_font, 854 - 2 * renderer.margin, 2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert wrap(draw, "Thermos Cup", renderer.title_font, 10_000, 2) == ["Thermos Cup"]


def room(room_id: str, mode: Literal["host", "anchor"]) -> RoomRecord:
    return RoomRecord(room_id=room_id, title="t", mode=mode, language="zh", created=0.0)


@pytest.fixture
async def api(
    bus: MemoryBus, store: Store, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, AvatarCapability]]:
    """The avatar capability's routes on an app of their own, with the edge's error shape."""
    root = Settings(store=StoreSettings(path=tmp_path / "x.sqlite3"))
    root.avatar.push = settings()
    cap = AvatarCapability(core_services(root, bus, store)[0], tts=FakeTTS())
    await store.create_room(room(ROOM, "anchor"), {"host": "h", "viewer": "v", "anchor": "a"})
    await store.create_room(room("hosted", "host"), {"host": "h2", "viewer": "v2", "anchor": "a2"})
    app = FastAPI()
    router = cap.router()
    assert router is not None
    app.include_router(router)

    @app.exception_handler(AssistantError)
    async def typed(_: Request, exc: AssistantError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, cap
    await cap.close()


async def test_the_push_api_is_the_hosts_and_only_for_anchor_rooms(
    api: tuple[httpx.AsyncClient, AvatarCapability],
) -> None:
    http, cap = api
    path = f"/v1/rooms/{ROOM}/anchor/push"
    body = {"url": "rtmp://127.0.0.1:1935/live/key"}

    async def put(token: str | None, json: object, room: str = ROOM) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await http.put(f"/v1/rooms/{room}/anchor/push", json=json, headers=headers)

    refused = [
        (await put(None, body), 401, "unauthorized"),
        (await put("v", body), 403, "forbidden"),
        (await put("h2", body), 401, "unauthorized"),  # another room's host token
        (await put("h", body, room="nope"), 401, "unauthorized"),  # an unknown room
        (await put("h2", body, room="hosted"), 409, "not_anchor_room"),
        (await put("h", {"url": "http://example.com/live"}), 400, "bad_input"),
        (await put("h", {"url": "rtmp://h/a", "extra": 1}), 422, "bad_input"),
        (await http.get(path, headers={"Authorization": "Bearer h"}), 404, "not_found"),
    ]
    with pytest.MonkeyPatch.context() as patch:  # a service installed without PyAV
        patch.setattr(importlib.util, "find_spec", lambda name: None)
        refused.append((await put("h", body), 503, "backend_unavailable"))
    for resp, status, code in refused:
        assert (resp.status_code, resp.json()["code"]) == (status, code), resp.text
    assert cap.pushes.rooms == {}


async def test_a_host_starts_reads_replaces_and_stops_a_push(
    api: tuple[httpx.AsyncClient, AvatarCapability],
) -> None:
    http, cap = api
    path, auth = f"/v1/rooms/{ROOM}/anchor/push", {"Authorization": "Bearer h"}
    listener = RtmpListener().start()
    try:
        resp = await http.put(path, json={"url": listener.url}, headers=auth)
        assert resp.status_code == 200, resp.text
        started = PushStatus.model_validate(resp.json())
        assert started.state == "connecting" and started.url.endswith("/live/***")
        await cap.pushes.rooms[ROOM].wait_for(lambda s: s.state == "live", 20)
        assert (await http.get(path, params={"token": "h"})).json()["state"] == "live"
        first = cap.pushes.rooms[ROOM]
        resp = await http.put(
            path, json={"url": f"rtmp://127.0.0.1:{free_port()}/live/y"}, headers=auth
        )
        assert resp.status_code == 200 and first.status().state == "stopped"
        stopped = await http.delete(path, headers=auth)
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
        assert (await http.get(path, headers=auth)).status_code == 404
        await http.put(path, json={"url": listener.url}, headers=auth)
    finally:
        await cap.close()  # stops the push it still runs
        listener.stop()
    assert cap.pushes.rooms == {}
    assert listener.wait_for(lambda heard: heard.ended_sessions == len(heard.sessions), 10)
