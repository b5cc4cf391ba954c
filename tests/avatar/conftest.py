"""Fixtures for avatar tests: a memory bus, a temp store, an anchor room and a listener."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog, Product
from assistant.compliance import load_gate
from assistant.events import AudioChunk, Event, Subtitle
from assistant.plugins import RoomInfo
from assistant.store import SqliteStore, Store
from avatar.anchor.fillers import load_lines
from avatar.anchor.room import AnchorRoom
from avatar.gate import Gate
from avatar.metrics import AvatarMetrics
from avatar.settings import AvatarSettings
from avatar.tts import TTS
from tests.fakes.avatar_clock import VirtualClock

ROOT = Path(__file__).resolve().parents[2]
ROOM = "room-a"


def product(sku: str, category: str = "beauty") -> Product:
    return Product(sku=sku, title=f"商品{sku}", price=59.9, stock=10, category=category)


def room_info(skus: tuple[str, ...] = ("A", "B", "C"), mode: str = "anchor") -> RoomInfo:
    catalog = Catalog(products=[product(s) for s in skus])
    return RoomInfo(room_id=ROOM, title="t", mode=mode, language="zh", catalog=catalog)


def avatar_settings(**kw: object) -> AvatarSettings:
    base: dict[str, object] = {
        "fillers_path": ROOT / "data" / "avatar" / "fillers.json",
        "persist_interval_s": 0.0,
    }
    base.update(kw)
    return AvatarSettings.model_validate(base)


def anchor_room(
    info: RoomInfo, bus: MemoryBus, store: Store, tts: TTS, settings: AvatarSettings,
    registry: CollectorRegistry,
) -> AnchorRoom:  # fmt: skip
    """A real anchor room with the fillers, the gate and metrics on ``registry``."""
    return AnchorRoom(
        info,
        bus=bus,
        store=store,
        tts=tts,
        settings=settings,
        metrics=AvatarMetrics(registry),
        gate=Gate(load_gate(ROOT / "data" / "compliance")),
        lines=load_lines(settings.fillers_path, "zh"),
    )


@dataclass
class Heard:
    """What an anchor client receives, with the playout timeline a listener would hear."""

    chunks: list[AudioChunk] = field(default_factory=list)
    subtitles: list[Subtitle] = field(default_factory=list)
    starts: dict[str, float] = field(default_factory=dict)  # utterance id -> playout start
    max_gap: float = 0.0
    play_end: float = 0.0

    def on_chunk(self, chunk: AudioChunk, now: float, keep: bool = True) -> None:
        if self.chunks_seen and now > self.play_end:
            self.max_gap = max(self.max_gap, now - self.play_end)
        start = max(now, self.play_end)
        self.starts.setdefault(chunk.utterance_id, start)
        self.play_end = start + len(chunk.data) / 2 / chunk.sample_rate
        self.chunks_seen += 1
        self.last_seq = chunk.seq
        if keep:
            self.chunks.append(chunk)

    chunks_seen: int = 0
    last_seq: int = -1

    def kinds(self) -> list[str]:
        return [s.kind for s in self.subtitles]


async def listen(bus: MemoryBus, heard: Heard, keep: bool = True) -> None:
    async def on(event: Event) -> None:
        now = asyncio.get_running_loop().time()
        if isinstance(event, AudioChunk):
            heard.on_chunk(event, now, keep)
        elif isinstance(event, Subtitle):
            heard.subtitles.append(event)

    await bus.on(ROOM, on, ["audio.chunk", "subtitle"])


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    b = MemoryBus(queue_size=4096)
    yield b
    await b.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SqliteStore(tmp_path / "lca.sqlite3")
    yield s
    await s.close()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    c = VirtualClock()
    c.install()
    yield c
    c.uninstall()
