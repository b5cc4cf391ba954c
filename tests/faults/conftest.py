"""Fixtures of the fault tests: a real redis-server of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.redisproc import RedisProcess


@pytest.fixture
async def redis_proc(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    proc = RedisProcess(tmp_path)
    await proc.start()
    try:
        yield proc
    finally:
        await proc.kill()
