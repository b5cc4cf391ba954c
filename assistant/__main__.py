"""`python -m assistant`: start the service, creating the demo room from data/ on first run."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

import uvicorn
from pydantic import BaseModel

from assistant.app import create_app
from assistant.catalog import Catalog
from assistant.rooms import RoomCreate, RoomCreated
from assistant.runtime import Runtime
from assistant.safety import check_start
from assistant.server import server_config
from assistant.settings import Settings

log = logging.getLogger("assistant")


class DemoRooms(BaseModel):
    """The demo's two rooms: one a human host runs, one the virtual anchor runs."""

    host: RoomCreated
    anchor: RoomCreated


def _demo_file(settings: Settings) -> Path:
    return settings.store.path.parent / "demo_rooms.json"


def _load_demo(settings: Settings, source: Path) -> tuple[DemoRooms | None, Catalog]:
    path = _demo_file(settings)
    saved = DemoRooms.model_validate_json(path.read_text()) if path.exists() else None
    return saved, Catalog.model_validate_json(source.read_text(encoding="utf-8"))


def _save_demo(settings: Settings, rooms: DemoRooms) -> None:
    path = _demo_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rooms.model_dump_json(indent=2))


async def ensure_demo_rooms(settings: Settings) -> DemoRooms | None:
    """Create the demo rooms once; their tokens are kept beside the database for later runs."""
    source = settings.server.demo_catalog
    if source is None:
        return None
    saved, catalog = _load_demo(settings, Path(source))
    runtime = await Runtime.start(settings.model_copy(update={"capabilities": []}))
    try:
        known = {room.room_id for room in await runtime.services.store.rooms()}
        if saved is not None and {saved.host.room_id, saved.anchor.room_id} <= known:
            return saved
        rooms = DemoRooms(
            host=await runtime.rooms.create(RoomCreate(title="演示直播间 Demo room"), catalog),
            anchor=await runtime.rooms.create(
                RoomCreate(title="数字人直播间 Virtual anchor", mode="anchor"), catalog
            ),
        )
    finally:
        await runtime.stop()
    _save_demo(settings, rooms)
    return rooms


def banner(settings: Settings, rooms: DemoRooms) -> str:
    base = f"http://{settings.server.host}:{settings.server.port}"
    host, anchor = rooms.host, rooms.anchor
    ws = f"{base.replace('http', 'ws', 1)}/v1/rooms/{host.room_id}/ws"
    chat = json.dumps(
        {"type": "chat", "user": {"id": "u1", "name": "小王"}, "text": "这个保温杯多少钱？"},
        ensure_ascii=False,
    )
    return "\n".join(
        [
            f"Service on {base} (API docs: {base}/docs)",
            f"Demo room {host.room_id} (a human host):",
            f"  host console: {base}/console/{host.room_id}?token={host.tokens['host']}",
            f"  overlay:      {base}/overlay/{host.room_id}?token={host.tokens['viewer']}",
            f"  tokens: host {host.tokens['host']}  viewer {host.tokens['viewer']}",
            f"Virtual-anchor room {anchor.room_id}:",
            f"  host console: {base}/console/{anchor.room_id}?token={anchor.tokens['host']}",
            f"  OBS overlay:  {base}/overlay/{anchor.room_id}?token={anchor.tokens['anchor']}",
            f"  tokens: host {anchor.tokens['host']}  viewer {anchor.tokens['viewer']}"
            f"  anchor {anchor.tokens['anchor']}",
            "Chat as a viewer in the demo room:",
            f"  python -m websockets '{ws}?token={host.tokens['viewer']}'",
            f"  then paste: {chat}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo room")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    check_start(settings.server)
    if args.no_demo:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update={"demo_catalog": None})}
        )
    rooms = asyncio.run(ensure_demo_rooms(settings))
    if rooms is not None:
        print(banner(settings, rooms), flush=True)
    uvicorn.Server(
        server_config(create_app(settings), settings, port=settings.server.port, log_level="info")
    ).run()


if __name__ == "__main__":
    main()
