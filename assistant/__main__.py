"""`python -m assistant`: start the service, creating the demo room from data/ on first run."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

import uvicorn

from assistant.app import create_app
from assistant.catalog import Catalog
from assistant.rooms import RoomCreate, RoomCreated
from assistant.runtime import Runtime
from assistant.settings import Settings

log = logging.getLogger("assistant")


async def _ensure(settings: Settings, saved: RoomCreated | None, catalog: Catalog) -> RoomCreated:
    runtime = await Runtime.start(settings.model_copy(update={"capabilities": []}))
    try:
        known = {room.room_id for room in await runtime.services.store.rooms()}
        if saved is not None and saved.room_id in known:
            return saved
        return await runtime.rooms.create(RoomCreate(title="演示直播间 Demo room"), catalog)
    finally:
        await runtime.stop()


def ensure_demo_room(settings: Settings) -> RoomCreated | None:
    """Create the demo room once; its tokens are kept beside the database for later runs."""
    source = settings.server.demo_catalog
    if source is None:
        return None
    path = settings.store.path.parent / "demo_room.json"
    saved = RoomCreated.model_validate_json(path.read_text()) if path.exists() else None
    catalog = Catalog.model_validate_json(Path(source).read_text(encoding="utf-8"))
    room = asyncio.run(_ensure(settings, saved, catalog))
    path.write_text(room.model_dump_json(indent=2))
    return room


def banner(settings: Settings, room: RoomCreated) -> str:
    base = f"{settings.server.host}:{settings.server.port}"
    ws = f"ws://{base}/v1/rooms/{room.room_id}/ws"
    chat = json.dumps(
        {"type": "chat", "user": {"id": "u1", "name": "小王"}, "text": "这个保温杯多少钱？"},
        ensure_ascii=False,
    )
    return "\n".join(
        [
            f"Demo room {room.room_id} on http://{base} (API docs: http://{base}/docs)",
            f"  host token:   {room.tokens['host']}",
            f"  viewer token: {room.tokens['viewer']}",
            f"  anchor token: {room.tokens['anchor']}",
            "Chat as a viewer:",
            f"  websocat '{ws}?token={room.tokens['viewer']}'",
            f"  python -m websockets '{ws}?token={room.tokens['viewer']}'",
            f"  then paste: {chat}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo room")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    if args.no_demo:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update={"demo_catalog": None})}
        )
    room = ensure_demo_room(settings)
    if room is not None:
        print(banner(settings, room), flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        ws="websockets-sansio",
        ws_max_size=settings.ws.protocol_limit,
        # Chat lines are tiny: compressing each frame for each viewer costs more than it saves.
        ws_per_message_deflate=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
