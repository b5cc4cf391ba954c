"""Shared benchmark plumbing: timing stats, result files and a service run in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).resolve().parent / "results"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        **payload,
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    print(f"wrote {path}")
    return path


# Thousands of viewers from one loopback address: a load bench lifts the per-source limits,
# which bench/abuse.py measures on their own.
UNLIMITED = {
    "LCA_LIMITS__VIEWER_PER_CONNECTION": "1000000/second",
    "LCA_LIMITS__VIEWER_PER_ADDRESS": "1000000/second",
    "LCA_LIMITS__VIEWER_PER_ROOM": "1000000/second",
    "LCA_LIMITS__CONNECTS_PER_ADDRESS": "1000000/second",
    "LCA_LIMITS__CONNECTIONS_PER_ADDRESS": "1000000",
    "LCA_LIMITS__CONNECTIONS_PER_ROOM": "1000000",
}


@asynccontextmanager
async def subprocess_service(
    args: list[str], port: int, env: dict[str, str], ready_path: str = "/healthz"
) -> AsyncIterator[str]:
    """Run ``python args...`` in its own process (its own core) and wait until it answers.

    Its log goes to a file, not a pipe: a pipe nobody drains fills up and blocks a chatty
    service mid-run, which would be measured as the service's own latency.
    """
    log = tempfile.NamedTemporaryFile(prefix="service-", suffix=".log", delete=False)  # noqa: SIM115
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, env={**os.environ, **env}, stdout=log, stderr=log
    )
    log.close()
    print(f"  service log: {log.name}")
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                if proc.returncode is not None:
                    text = await asyncio.to_thread(Path(log.name).read_text, errors="replace")
                    raise RuntimeError(text[-4000:])
                try:
                    await http.get(url + ready_path, timeout=0.5)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            # uvicorn drains open connections on SIGTERM; a loaded server may take longer.
            proc.kill()
            await proc.wait()
