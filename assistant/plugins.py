"""The capability protocol: how vision, recommend, the answerer and the anchor plug into rooms."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from assistant.catalog import Catalog
from assistant.errors import BackendUnavailable

if TYPE_CHECKING:
    from fastapi import APIRouter
    from prometheus_client import CollectorRegistry

    from assistant.access import Limiter
    from assistant.bus import EventBus
    from assistant.compliance import ComplianceGate
    from assistant.embedders import EmbedderPool
    from assistant.events import ChatTriaged, StageChanged
    from assistant.settings import Settings
    from assistant.store import ChatStatus, Store
    from assistant.supervise import Supervisor


class RoomInfo(BaseModel):
    room_id: str
    title: str
    mode: str
    language: str
    catalog: Catalog


class Backlog(Protocol):
    """The triaged chat backlog an answerer pulls from, highest priority first."""

    async def next(self, room_id: str) -> ChatTriaged:
        """Wait for the next question of a room; it leaves the backlog."""

    async def resolve(
        self,
        room_id: str,
        chat_id: str,
        status: ChatStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
    ) -> bool:
        """Mark a question (and its linked duplicates) answered or skipped, and tell the host;
        False when another instance took the question over (it answers it, not this one)."""

    def requeue(self, item: ChatTriaged) -> None:
        """Hand back a question taken with ``next`` and not finished (it is still queued)."""


class StageView(Protocol):
    """The room's product on stage, as its one owner in the core decided it."""

    def current(self, room_id: str) -> StageChanged | None: ...

    def sku(self, room_id: str) -> str | None: ...


@dataclass(frozen=True)
class Services:
    """What the app hands every capability: never a global."""

    settings: Settings
    bus: EventBus
    store: Store
    registry: CollectorRegistry
    backlog: Backlog
    stage: StageView
    embedders: EmbedderPool
    limiter: Limiter
    supervisor: Supervisor
    compliance: ComplianceGate  # the Advertising Law gate every spoken or shown line passes


class Capability(Protocol):
    name: str

    def router(self) -> APIRouter | None:
        """HTTP routes this capability serves, mounted by the app."""

    async def open_room(self, room: RoomInfo) -> None:
        """Start serving a room: subscribe to its bus and start its tasks."""

    async def close(self) -> None:
        """Cancel and await every task the capability owns."""


class CapabilityStatus(BaseModel):
    """One capability's health in one room, as the host console shows it."""

    name: str
    ok: bool
    detail: str = ""
    info: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class StatusReporter(Protocol):
    """A capability that can say how it is doing in a room (None: not serving that room)."""

    def status(self, room_id: str) -> CapabilityStatus | None: ...


@runtime_checkable
class ReadyReporter(Protocol):
    """A capability whose models gate readiness: ``ok`` False only while they still load."""

    def readiness(self) -> CapabilityStatus: ...


class CapabilityFactory(Protocol):
    def __call__(self, services: Services) -> Capability: ...


# Import paths, so a capability's heavy dependencies load only when the settings enable it.
CAPABILITIES: dict[str, tuple[str, str]] = {
    "vision": ("vision.capability", "vision"),
    "recommend": ("recommend.capability", "recommend"),
    "brain": ("assistant.brain.capability", "llm"),
    "avatar": ("avatar.capability", "avatar"),
}


def load_capability(name: str, services: Services) -> Capability:
    if name not in CAPABILITIES:
        raise BackendUnavailable(f"unknown capability {name!r}", retryable=False)
    module_name, extra = CAPABILITIES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(
            f"capability {name!r} needs its extra: pip install -e '.[{extra}]' ({exc})",
            retryable=False,
        ) from exc
    factory: CapabilityFactory = module.create
    return factory(services)
