"""Supervised loops: a failing loop runs again after a delay, counted and reported degraded."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from assistant.supervise import Backoff, Supervisor


async def test_a_failing_loop_is_restarted_counted_and_reported() -> None:
    registry = CollectorRegistry()
    supervisor = Supervisor(registry, Backoff(first_s=0.001, max_s=0.01))
    runs = 0
    done = asyncio.Event()

    async def loop() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ConnectionError(f"failure {runs}")
        done.set()

    task = asyncio.create_task(supervisor.run(loop, name="answers", capability="brain",
                                              room_id="r1"))  # fmt: skip
    await asyncio.wait_for(done.wait(), 5)
    await task  # a loop that returns is done for good
    assert runs == 3
    labels = {"capability": "brain", "loop": "answers"}
    assert registry.get_sample_value("lca_loop_restarts_total", labels) == 2
    (state,) = supervisor.report("r1")
    assert state.restarts == 2 and state.degraded
    assert state.last_error is not None and "failure 2" in state.last_error
    assert supervisor.report("another-room") == []


async def test_cancelling_stops_the_loop_for_good() -> None:
    supervisor = Supervisor(CollectorRegistry())
    started = asyncio.Event()

    async def loop() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(supervisor.run(loop, name="speaker", capability="avatar"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    (state,) = supervisor.report("any-room")  # a loop that serves every room
    assert state.restarts == 0 and not state.degraded
