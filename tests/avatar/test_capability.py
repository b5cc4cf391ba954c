"""The capability: only anchor rooms run the loop; close() stops every task and the voice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from assistant.bus.memory import MemoryBus
from assistant.plugins import Services
from assistant.settings import Settings, StoreSettings
from assistant.store import Store
from avatar.capability import AvatarCapability, create
from avatar.errors import BackendMissing
from avatar.settings import AvatarSettings
from avatar.tts import create_tts
from tests.avatar.conftest import Heard, listen, room_info
from tests.fakes.avatar_tts import FakeTTS
from tests.services import core_services


def services(bus: MemoryBus, store: Store, registry: CollectorRegistry, tmp: Path) -> Services:
    settings = Settings(store=StoreSettings(path=tmp / "x.sqlite3"))
    return core_services(settings, bus, store, registry)[0]


async def test_only_anchor_rooms_speak_and_close_stops_all(
    bus: MemoryBus, store: Store, registry: CollectorRegistry, tmp_path: Path
) -> None:
    fake = FakeTTS(seconds_per_char=0.01)
    cap = AvatarCapability(services(bus, store, registry, tmp_path), tts=fake)
    assert cap.name == "avatar" and cap.router() is not None  # the anchor push routes
    heard = Heard()
    await listen(bus, heard)
    await cap.open_room(room_info(mode="host"))
    assert cap.rooms == {}
    await cap.open_room(room_info())
    await cap.open_room(room_info())  # idempotent
    assert len(cap.rooms) == 1
    for _ in range(100):
        if heard.chunks:
            break
        await asyncio.sleep(0.05)
    assert heard.chunks and heard.subtitles[0].kind == "filler"
    chunk = heard.chunks[0]
    assert chunk.sample_rate == fake.sample_rate and len(chunk.data) % 2 == 0
    before = {t.get_name() for t in asyncio.all_tasks()}
    assert any(name.startswith("anchor-speaker") for name in before)
    await cap.close()
    after = {t.get_name() for t in asyncio.all_tasks()}
    assert not any(name.startswith("anchor-") for name in after)
    assert fake.closed
    state = await store.state("room-a", "anchor")
    assert state is not None and state["seq"] >= 1
    assert registry.get_sample_value("avatar_utterances_total", {"kind": "filler"})


def test_create_builds_without_loading_models(
    bus: MemoryBus, store: Store, registry: CollectorRegistry, tmp_path: Path
) -> None:
    cap = create(services(bus, store, registry, tmp_path))
    assert isinstance(cap.settings, AvatarSettings) and cap.rooms == {}


def test_coqui_without_a_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BackendMissing, match="coqui_model_dir"):
        create_tts(AvatarSettings(backend="coqui"))
    (tmp_path / "config.json").write_text('{"audio": {"sample_rate": 22050}}')
    with pytest.raises(BackendMissing, match="TTS package is not installed"):
        create_tts(AvatarSettings(backend="coqui", coqui_model_dir=tmp_path))
    with pytest.raises(BackendMissing, match=r"not found|piper-tts"):  # the file, or the package
        create_tts(AvatarSettings(backend="piper", piper_model=tmp_path / "nope.onnx"))


async def test_two_instances_on_one_bus_run_a_room_once_and_hand_it_over(
    bus: MemoryBus, store: Store, tmp_path: Path
) -> None:
    """The room's lease: one instance speaks, the other stands by; when the speaker leaves,
    the other takes over from the persisted state within the lease."""
    settings = Settings(
        store=StoreSettings(path=tmp_path / "x.sqlite3"), avatar=AvatarSettings(lease_s=0.3)
    )
    caps = [
        AvatarCapability(core_services(settings, bus, store, CollectorRegistry())[0],
                         tts=FakeTTS(seconds_per_char=0.01))
        for _ in range(2)
    ]  # fmt: skip
    for cap in caps:
        await cap.open_room(room_info())
    first, second = caps
    assert list(first.rooms) == ["room-a"] and second.rooms == {}
    standby = second.status("room-a")
    assert standby is not None and standby.detail.startswith("standby")
    await first.close()
    async with asyncio.timeout(5):
        while not second.rooms:  # noqa: ASYNC110 - the lease is renewed on its own clock
            await asyncio.sleep(0.05)
    heard = Heard()
    await listen(bus, heard)
    async with asyncio.timeout(5):
        while not heard.chunks:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await second.close()
