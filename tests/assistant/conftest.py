"""Fixtures for the brain: demo catalog, gate, store, bus, fake backlog and a brain factory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from assistant.brain import Brain
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.compliance import ComplianceGate, load_gate
from assistant.events import Event
from assistant.llm.settings import AnswerSettings, LLMSettings, ScriptSettings
from assistant.plugins import RoomInfo, Services
from assistant.settings import Settings
from assistant.store import Store
from tests.fakes.assistant_backlog import QueueBacklog

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = Path("~/.cache/live-commerce").expanduser()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.model_validate(json.loads((ROOT / "data/demo_catalog.json").read_text()))


@pytest.fixture(scope="session")
def gate() -> ComplianceGate:
    return load_gate(ROOT / "data/compliance")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "brain.sqlite3")
    yield s
    s.close()


class Harness:
    """A brain on a memory bus with a fake backlog; collects every event it publishes."""

    def __init__(self, brain: Brain, bus: MemoryBus, backlog: QueueBacklog, store: Store,
                 registry: CollectorRegistry) -> None:  # fmt: skip
        self.brain, self.bus, self.backlog, self.store = brain, bus, backlog, store
        self.registry = registry
        self.events: list[Event] = []

    async def open(self, room_id: str, catalog: Catalog, language: str = "zh") -> None:
        async def record(event: Event) -> None:
            self.events.append(event)

        types = ["answer.delta", "answer", "script.delta", "script"]
        await self.bus.on(room_id, record, types)
        info = RoomInfo(room_id=room_id, title="t", mode="host", language=language, catalog=catalog)
        await self.brain.open_room(info)

    def of(self, kind: str, **match: Any) -> list[Any]:
        return [
            e for e in self.events
            if e.type == kind and all(getattr(e, k) == v for k, v in match.items())
        ]  # fmt: skip

    async def until(self, cond: Callable[[], bool], limit: float = 30.0) -> None:
        async with asyncio.timeout(limit):
            while not cond():  # noqa: ASYNC110 - polling a condition over many event sources
                await asyncio.sleep(0.01)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def harness(store: Store, gate: ComplianceGate) -> AsyncIterator[HarnessFactory]:
    made: list[Harness] = []

    async def make(
        llm: Any = None,
        *,
        answers: AnswerSettings | None = None,
        llm_settings: LLMSettings | None = None,
        scripts: ScriptSettings | None = None,
    ) -> Harness:
        bus, backlog, registry = MemoryBus(), QueueBacklog(), CollectorRegistry()
        services = Services(settings=Settings(), bus=bus, store=store, registry=registry,
                            backlog=backlog)  # fmt: skip
        ls = llm_settings or LLMSettings(backend="none" if llm is None else "llamacpp",
                                         first_token_timeout_s=2.0, timeout_s=5.0)  # fmt: skip
        brain = Brain(services, llm=llm, gate=gate, llm_settings=ls,
                      answer_settings=answers or AnswerSettings(embedder="lexical"),
                      script_settings=scripts)  # fmt: skip
        h = Harness(brain, bus, backlog, store, registry)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.brain.close()
        await h.bus.close()
