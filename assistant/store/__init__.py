"""The store: a protocol, the shared SQL, and the backends chosen by name in the settings."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from assistant.store.base import (
    ChatRecord,
    ChatStatus,
    Lease,
    OutputKind,
    RoomRecord,
    Store,
    hash_token,
)
from assistant.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from assistant.settings import StoreSettings


async def open_store(settings: StoreSettings) -> Store:
    """``sqlite`` (one machine, the default) or ``postgres`` (instances on several)."""
    if settings.backend == "postgres":
        from assistant.store.postgres import PostgresStore

        return await PostgresStore.open(
            settings.dsn, schema=settings.schema_name, size=settings.pool_size
        )
    # opening migrates, and may wait on another process's migration: not on the event loop
    return await asyncio.to_thread(SqliteStore, settings.path)


__all__ = [
    "ChatRecord",
    "ChatStatus",
    "Lease",
    "OutputKind",
    "RoomRecord",
    "SqliteStore",
    "Store",
    "hash_token",
    "open_store",
]
