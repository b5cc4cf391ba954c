"""The core services a capability gets, built for capability tests: real stage owner included."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from assistant.access import Limiter
from assistant.bus import EventBus
from assistant.compliance import load_gate
from assistant.embedders import EmbedderPool
from assistant.plugins import Backlog, Services
from assistant.settings import Settings
from assistant.stage import StageOwner
from assistant.store import Store
from assistant.supervise import Supervisor
from tests.fakes.backlog import IdleBacklog

COMPLIANCE = Path(__file__).resolve().parent.parent / "data" / "compliance"


def core_services(
    settings: Settings,
    bus: EventBus,
    store: Store,
    registry: CollectorRegistry | None = None,
    backlog: Backlog | None = None,
) -> tuple[Services, StageOwner]:
    """Services as the runtime builds them; open rooms on the returned owner to follow stages."""
    stage = StageOwner(bus, store)
    registry = registry or CollectorRegistry()
    services = Services(
        settings=settings,
        bus=bus,
        store=store,
        registry=registry,
        backlog=backlog or IdleBacklog(),
        stage=stage,
        embedders=EmbedderPool(),
        limiter=Limiter(settings.limits, settings.bus.redis_url),
        supervisor=Supervisor(registry),
        compliance=load_gate(COMPLIANCE),
    )
    return services, stage
