"""Each store test on every backend: a SQLite file in a temp dir, a PostgreSQL schema of its own."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assistant.store import Store
from tests.store.backends import (
    DSN,
    OPTIONAL,
    Database,
    PostgresDatabase,
    SqliteDatabase,
    postgres_unreachable,
)


async def postgres_or_skip() -> PostgresDatabase:
    """A fresh schema; PostgreSQL down fails the test unless LCA_TEST_POSTGRES_OPTIONAL=1."""
    why = await postgres_unreachable()
    if why is not None:
        if OPTIONAL or os.environ.get("LCA_FAST_LANE") == "1":
            pytest.skip(f"{why} (LCA_TEST_POSTGRES_OPTIONAL=1 or the fast lane: skipped)")
        pytest.fail(f"{why}; the postgres tests need it (LCA_TEST_POSTGRES_DSN={DSN}), or set "
                    "LCA_TEST_POSTGRES_OPTIONAL=1 to skip them", pytrace=False)  # fmt: skip
    return PostgresDatabase()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    made: Database
    if request.param == "sqlite":
        made = SqliteDatabase(tmp_path / "lca.sqlite3")
    else:
        made = await postgres_or_skip()
    try:
        yield made
    finally:
        await made.drop()


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    opened = await database.open()
    yield opened
    await opened.close()
