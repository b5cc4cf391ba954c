"""Everything one app instance owns, built at start-up and torn down in reverse at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from assistant.access import Limiter
from assistant.bus import create_bus
from assistant.compliance import load_gate
from assistant.connectors.manager import Connectors
from assistant.embedders import EmbedderPool
from assistant.live import LiveView
from assistant.metrics import Metrics
from assistant.plugins import Capability, Services, load_capability
from assistant.recover import GapRecovery
from assistant.rooms import Rooms
from assistant.settings import Settings
from assistant.stage import StageOwner
from assistant.store import open_store
from assistant.supervise import Supervisor
from assistant.tasks import TaskSet
from assistant.triage import Triage
from assistant.understand.service import Understander


@dataclass
class Runtime:
    services: Services
    triage: Triage
    rooms: Rooms
    live: LiveView
    stage: StageOwner
    understander: Understander
    metrics: Metrics
    capabilities: list[Capability]
    tasks: TaskSet
    connectors: Connectors

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        store = await open_store(settings.store)
        bus = create_bus(settings.bus)
        u = settings.understand
        pool = EmbedderPool(threads=u.threads, st_model_path=u.st_model_path)
        stage = StageOwner(bus, store)
        understander = Understander(u, bus, stage, pool)
        triage = Triage(settings.triage, store, bus, understander)
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        metrics.watch(bus, triage)
        services = Services(
            settings=settings,
            bus=bus,
            store=store,
            registry=registry,
            backlog=triage,
            stage=stage,
            embedders=pool,
            limiter=Limiter(settings.limits, settings.bus.redis_url),
            supervisor=Supervisor(registry),
            compliance=load_gate(settings.compliance.rules_dir),
        )
        capabilities = [load_capability(name, services) for name in settings.capabilities]
        live = LiveView(bus)
        recovery = GapRecovery(bus, store)
        rooms = Rooms(services, triage, live, stage, understander, capabilities, recovery)
        await rooms.open_all()
        tasks = TaskSet()
        leases = services.supervisor.run(triage.keep_leases, name="leases", capability="core")
        tasks.spawn(leases, "triage-leases")
        connectors = Connectors(
            settings.connectors,
            bus=bus,
            triage=triage,
            registry=registry,
            max_frame_bytes=settings.ws.max_frame_bytes,
        )
        await connectors.start_configured({r.room_id for r in await store.rooms()})
        return cls(
            services,
            triage,
            rooms,
            live,
            stage,
            understander,
            metrics,
            capabilities,
            tasks,
            connectors,
        )

    async def stop(self) -> None:
        await self.connectors.close()
        await self.tasks.cancel()
        for capability in reversed(self.capabilities):
            await capability.close()
        # After the brain closed: the question it was answering is queued again by then.
        await self.triage.release()
        self.understander.close()
        self.stage.close()
        self.live.close()
        self.rooms.recovery.close()
        await self.services.bus.close()
        await self.services.limiter.close()
        await self.services.store.close()
