"""Readiness: whether this instance can serve now (bus, store, models), for load balancers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from assistant.plugins import CapabilityStatus, ReadyReporter

if TYPE_CHECKING:
    from assistant.runtime import Runtime

CHECK_TIMEOUT_S = 2.0


class Readiness(BaseModel):
    """``ready`` when the bus and the store answer and no model is still loading; a model
    that fails is reported (the room's health says so) without taking the instance out."""

    status: Literal["ready", "not_ready"]
    checks: list[CapabilityStatus]


async def _probe(name: str, call: Awaitable[None]) -> CapabilityStatus:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await call
    except TimeoutError:
        return CapabilityStatus(name=name, ok=False, detail=f"no reply in {CHECK_TIMEOUT_S} s")
    except Exception as exc:
        return CapabilityStatus(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}"[:200])
    return CapabilityStatus(name=name, ok=True, detail="ok")


async def readiness(rt: Runtime) -> Readiness:
    services = rt.services
    bus = await _probe("bus", services.bus.ping())
    if bus.ok and services.bus.unreachable_since is not None:
        waiting = services.bus.backlogged
        bus = CapabilityStatus(name="bus", ok=False, detail=f"{waiting} events wait to be sent")
    checks = [bus, await _probe("store", services.store.ping())]
    checks += [c.readiness() for c in rt.capabilities if isinstance(c, ReadyReporter)]
    ready = all(check.ok for check in checks)
    return Readiness(status="ready" if ready else "not_ready", checks=checks)
