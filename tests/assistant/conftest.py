"""Fixtures for the brain: demo catalog, gate, store, bus, fake backlog and a brain factory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from assistant.access import Limiter
from assistant.brain.capability import Brain
from assistant.brain.llm.settings import AnswerSettings, LLMSettings, ScriptSettings
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.compliance import ComplianceGate, load_gate
from assistant.embedders import EmbedderPool
from assistant.events import Chat, ChatTriaged, Event, StageSet, User
from assistant.plugins import RoomInfo, Services
from assistant.settings import LimitSettings, Settings
from assistant.stage import StageOwner
from assistant.store import SqliteStore, Store
from assistant.supervise import Supervisor
from assistant.understand.service import Understander
from assistant.understand.settings import UnderstandSettings
from tests.fakes.assistant_backlog import QueueBacklog, Resolved
from tests.waits import until

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
    s = SqliteStore(tmp_path / "brain.sqlite3")
    yield s
    await s.close()


class Harness:
    """A brain on a memory bus with the core's real stage owner and understanding step in front
    of a fake backlog; collects every event it publishes."""

    def __init__(self, brain: Brain, services: Services, backlog: QueueBacklog,
                 understander: Understander, stage: StageOwner) -> None:  # fmt: skip
        self.brain, self.bus, self.backlog = brain, services.bus, backlog
        self.store, self.registry = services.store, services.registry
        self.understander, self.stage = understander, stage
        self.events: list[Event] = []

    async def open(self, room_id: str, catalog: Catalog, language: str = "zh") -> None:
        async def record(event: Event) -> None:
            self.events.append(event)

        types = ["answer.delta", "answer", "script.delta", "script", "script.approved"]
        await self.bus.on(room_id, record, types)
        info = RoomInfo(room_id=room_id, title="t", mode="host", language=language, catalog=catalog)
        await self.stage.open_room(info)
        await self.understander.open_room(info)
        await self.brain.open_room(info)
        if self.brain.llm is not None:  # the model loads in the background; let it finish
            await self.until(lambda: self.brain.status(room_id) is not None
                             and self.brain.status(room_id).detail != "LLM loading")  # type: ignore[union-attr]  # fmt: skip

    async def ask(self, room_id: str, text: str, *, user: str = "u1", name: str = "小王") -> Chat:
        """A viewer's line as triage hands it on: understood once, then queued for the brain."""
        chat = Chat(room_id=room_id, user=User(id=user, name=name), text=text)
        understood = await self.understander.read(chat)
        self.backlog.put(ChatTriaged(room_id=room_id, chat=chat, understanding=understood))
        return chat

    async def pin(self, room_id: str, sku: str | None) -> None:
        """Pin (or unpin) like the host, and wait until the stage owner has it."""

        def done() -> bool:
            now = self.stage.current(room_id)
            if now is None or now.source != "pin":
                return sku is None
            return now.sku == sku

        await self.bus.publish(StageSet(room_id=room_id, sku=sku))
        await self.until(done)

    def of(self, kind: str, **match: Any) -> list[Any]:
        return [
            e for e in self.events
            if e.type == kind and all(getattr(e, k) == v for k, v in match.items())
        ]  # fmt: skip

    async def settled(self, chat_id: str, limit: float = 30.0) -> Resolved:
        """Wait until a question is resolved and, when answered, its answer is published (the
        status is stored first)."""
        resolved = await self.backlog.wait_for(chat_id, limit)
        if resolved.status == "answered":
            await self.until(lambda: bool(self.of("answer", chat_id=chat_id)), limit)
        return resolved

    async def until(self, cond: Callable[[], bool], limit: float = 30.0) -> None:
        await until(cond, timeout=limit)

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
        embedder: str = "none",
    ) -> Harness:
        bus, backlog, registry = MemoryBus(), QueueBacklog(), CollectorRegistry()
        stage, pool = StageOwner(bus, store), EmbedderPool()
        understander = Understander(UnderstandSettings(embedder=embedder), bus, stage, pool)
        services = Services(settings=Settings(), bus=bus, store=store, registry=registry,
                            backlog=backlog, stage=stage, embedders=pool,
                            limiter=Limiter(LimitSettings(), ""),
                            supervisor=Supervisor(registry), compliance=gate)  # fmt: skip
        ls = llm_settings or LLMSettings(backend="none" if llm is None else "llamacpp",
                                         first_token_timeout_s=2.0, timeout_s=5.0)  # fmt: skip
        brain = Brain(services, llm=llm, gate=gate, llm_settings=ls,
                      answer_settings=answers or AnswerSettings(),
                      script_settings=scripts)  # fmt: skip
        h = Harness(brain, services, backlog, understander, stage)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.brain.close()
        h.understander.close()
        h.stage.close()
        await h.bus.close()
