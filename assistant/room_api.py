"""HTTP routes the console and overlay read: chat history, outputs, live state, health, uploads."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel

from assistant.access import read_body
from assistant.api import RuntimeDep, host_only, room_role
from assistant.catalog_io import parse_catalog_file, sniff
from assistant.connectors.base import ConnectorStatus
from assistant.events import StageChanged, VisionUpdate
from assistant.live import Latency, LiveSnapshot
from assistant.plugins import CapabilityStatus, StatusReporter
from assistant.store import ChatRecord, ChatStatus, OutputKind, RoomRecord
from assistant.supervise import LoopState

router = APIRouter()
HostOnly = Depends(host_only)


class RoomHealth(BaseModel):
    """Everything the console's health panel shows, read in one request. ``status`` is
    ``degraded`` while a background loop of the room (or one serving every room) has failed
    in the last minute; ``outbox``: events waiting for the bus backend to come back."""

    room: RoomRecord
    status: Literal["ok", "degraded"]
    loops: list[LoopState]
    outbox: int
    backlog: int
    queue_depth: int  # events queued for the room's subscribers
    connections: dict[str, int]
    latencies: dict[str, Latency]
    vision: VisionUpdate | None
    stage: StageChanged | None
    capabilities: list[CapabilityStatus]
    connectors: list[ConnectorStatus]


@router.get("/v1/rooms/{room_id}/chat", dependencies=[HostOnly])
async def chat_log(
    room_id: str,
    rt: RuntimeDep,
    since: Annotated[float, Query(ge=0)] = 0.0,
    status: ChatStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    newest: bool = False,
) -> list[ChatRecord]:
    """Chat lines from ``since`` (a server timestamp), oldest first, with status and answer.

    ``newest=true`` returns the last ``limit`` lines instead of the first: a page's first load.
    """
    return await rt.services.store.chats(
        room_id, status=status, since=since, limit=limit, newest=newest
    )


@router.get("/v1/rooms/{room_id}/outputs/{kind}", dependencies=[HostOnly])
async def outputs(
    room_id: str,
    kind: OutputKind,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """The newest scripts, answers, compliance rewrites or recommendations, oldest first."""
    return await rt.services.store.outputs(room_id, kind, limit)


@router.get("/v1/rooms/{room_id}/live", dependencies=[Depends(room_role)])
async def live(room_id: str, rt: RuntimeDep) -> LiveSnapshot:
    """The product card, the latest answer and subtitle: what an overlay shows on connect."""
    return rt.live.snapshot(room_id)


@router.get("/v1/rooms/{room_id}/health", dependencies=[HostOnly])
async def health(room_id: str, rt: RuntimeDep) -> RoomHealth:
    reports = [c.status(room_id) for c in rt.capabilities if isinstance(c, StatusReporter)]
    loops = rt.services.supervisor.report(room_id)
    return RoomHealth(
        room=await rt.services.store.room(room_id),
        status="degraded" if any(loop.degraded for loop in loops) else "ok",
        loops=loops,
        outbox=rt.services.bus.backlogged,
        backlog=rt.triage.backlog_sizes().get(room_id, 0),
        queue_depth=rt.services.bus.depths().get(room_id, 0),
        connections=rt.metrics.room_connections(room_id),
        latencies=rt.live.latencies(room_id),
        vision=rt.live.vision(room_id),
        stage=rt.stage.current(room_id),
        capabilities=[r for r in reports if r is not None],
        connectors=rt.connectors.statuses(room_id),
    )


@router.get("/v1/rooms/{room_id}/frames/{frame_id}", dependencies=[HostOnly])
async def frame(room_id: str, frame_id: str, rt: RuntimeDep) -> Response:
    """One of the last few frames, so the console can draw a vision update's boxes on it."""
    data = rt.live.frame(room_id, frame_id)
    media = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=60"})


@router.post("/v1/rooms/{room_id}/catalog/upload", dependencies=[HostOnly])
async def upload_catalog(
    room_id: str,
    request: Request,
    rt: RuntimeDep,
    content_type: Annotated[str | None, Header()] = None,
) -> dict[str, int]:
    """Replace the catalog from a JSON or CSV file; 422 lists each bad row, nothing applies."""
    body = await read_body(request, rt.services.settings.server.max_catalog_bytes, "catalog file")
    catalog = await asyncio.to_thread(parse_catalog_file, body, sniff(body, content_type))
    await rt.rooms.put_catalog(room_id, catalog)
    return {"products": len(catalog.products)}
