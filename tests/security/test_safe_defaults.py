"""Safe defaults: the default admin token never serves off loopback; tokens never reach a log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_room, make_settings
from tests.server import serve

ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m assistant`` as an operator runs it, stopped after a few seconds if it serves."""
    full = {**os.environ, "LCA_STORE__PATH": str(tmp_path / "lca.sqlite3"),
            "LCA_CAPABILITIES": "[]", **env}  # fmt: skip
    cmd = [sys.executable, "-m", "assistant", "--no-demo"]
    try:
        return subprocess.run(cmd, cwd=ROOT, env=full, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as exc:
        out = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return subprocess.CompletedProcess(cmd, 0, "", out)


def test_the_default_admin_token_is_refused_off_loopback(tmp_path: Path) -> None:
    done = start(tmp_path, LCA_SERVER__HOST="0.0.0.0", LCA_SERVER__PORT="0")
    assert done.returncode != 0
    assert "LCA_SERVER__ADMIN_TOKEN" in done.stderr + done.stdout


@pytest.mark.slow
def test_a_secret_admin_token_serves_off_loopback(tmp_path: Path) -> None:
    done = start(tmp_path, LCA_SERVER__HOST="0.0.0.0", LCA_SERVER__PORT="0",
                 LCA_SERVER__ADMIN_TOKEN="a-real-secret")  # fmt: skip
    assert "refusing" not in done.stderr and "Uvicorn running" in done.stderr


async def test_tokens_in_request_lines_are_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(make_settings(tmp_path)) as url, httpx.AsyncClient(base_url=url) as http:
        room = await create_room(http)
        token = room.tokens["viewer"]
        access, errors = logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")
        for logger in (access, errors):  # uvicorn's loggers do not propagate to the root
            logger.addHandler(caplog.handler)
        try:
            with caplog.at_level(logging.INFO, logger="uvicorn.access"):
                # the line uvicorn writes for a request, with the query a page was opened with
                access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                            f"/overlay/{room.room_id}?token={token}", "1.1", 200)  # fmt: skip
                errors.error("bad request: %s", f"Authorization: Bearer {token}")
        finally:
            for logger in (access, errors):
                logger.removeHandler(caplog.handler)
    assert len(caplog.records) == 2 and token not in caplog.text
    assert "token=***" in caplog.text and "Bearer ***" in caplog.text
