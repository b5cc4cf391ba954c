"""The service as a real child process (``python -m assistant``), for fault tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from assistant.events import Role
from assistant.rooms import RoomCreated
from tests.conftest import ADMIN, DEMO_CATALOG
from tests.server import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One instance on its own port; ``env`` holds its LCA_* settings."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "LCA_SERVER__PORT": str(self.port),
            "LCA_SERVER__ADMIN_TOKEN": ADMIN,
            **env,
        }
        self.workdir = workdir
        self.log = Path(tempfile.mkstemp(prefix="service-", suffix=".log", dir=workdir)[1])
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 120.0) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "assistant", "--no-demo",
                env=self.env, cwd=ROOT, stdout=out, stderr=out,
            )  # fmt: skip
        try:
            await self._ready(timeout)
        except BaseException:
            await self.stop()
            raise

    async def _ready(self, timeout: float) -> None:
        assert self.proc is not None
        async with httpx.AsyncClient() as http, asyncio.timeout(timeout):
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(self.log.read_text(errors="replace")[-4000:])
                try:
                    if (await http.get(self.url + "/readyz", timeout=2)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def ws(self, room: RoomCreated, role: Role, **params: str) -> str:
        query = "&".join([f"token={room.tokens[role]}", *(f"{k}={v}" for k, v in params.items())])
        return f"ws://127.0.0.1:{self.port}/v1/rooms/{room.room_id}/ws?{query}"

    async def until_metric(
        self, name: str, ok: Callable[[float], bool], timeout: float = 60.0, **labels: str
    ) -> float:
        """Poll /metrics until ``ok(value)`` holds (a condition in another process)."""
        async with asyncio.timeout(timeout):
            while not ok(value := await self.metric(name, **labels)):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        return value

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of the instance's /metrics (0 when absent)."""
        async with httpx.AsyncClient() as http:
            text = (await http.get(self.url + "/metrics", timeout=5)).text
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        key = f"{name}{{{want}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(key + " "):
                return float(line.split()[-1])
        return 0.0


async def demo_room(service: ServiceProcess, **spec: str) -> RoomCreated:
    """A room holding the demo catalog, created through the admin API."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        resp = await http.post("/v1/rooms", json={"title": "故障", **spec}, headers=admin)
        assert resp.status_code == 201, resp.text
        room = RoomCreated.model_validate(resp.json())
        host = {"Authorization": f"Bearer {room.tokens['host']}"}
        put = await http.put(f"/v1/rooms/{room.room_id}/catalog",
                             content=DEMO_CATALOG.read_bytes(),
                             headers={**host, "Content-Type": "application/json"})  # fmt: skip
        assert put.status_code == 200, put.text
    return room
