"""HTTP routes: health, metrics, rooms, catalogs and frame upload, with typed error bodies."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from assistant.catalog import Catalog, ShopInfo
from assistant.errors import Forbidden, TooLarge, Unauthorized
from assistant.events import Frame, Role
from assistant.frames import check_frame
from assistant.rooms import RoomCreate, RoomCreated
from assistant.runtime import Runtime

router = APIRouter()


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def bearer(authorization: Annotated[str | None, Header()] = None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


async def room_role(
    room_id: str,
    rt: RuntimeDep,
    header_token: Annotated[str | None, Depends(bearer)],
    token: Annotated[str | None, Query()] = None,
) -> Role:
    """Resolve the caller's role in a room from a bearer header or ``?token=``.

    An unknown room is refused like a bad token, so room ids cannot be probed for.
    """
    given = header_token or token
    role = await rt.services.store.role_for(room_id, given) if given else None
    if role is None:
        raise Unauthorized("missing or invalid room token")
    return role


async def host_only(role: Annotated[Role, Depends(room_role)]) -> Role:
    if role != "host":
        raise Forbidden("only the room's host may do this")
    return role


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The raw request body, refused as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise TooLarge(f"{what} larger than {limit} bytes")
    return bytes(body)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics")
async def metrics(rt: RuntimeDep) -> Response:
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/rooms", status_code=201)
async def create_room(
    spec: RoomCreate, rt: RuntimeDep, token: Annotated[str | None, Depends(bearer)]
) -> RoomCreated:
    admin = rt.services.settings.server.admin_token.get_secret_value()
    if token is None or not hmac.compare_digest(token, admin):
        raise Unauthorized("admin bearer token required")
    return await rt.rooms.create(spec)


@router.put("/v1/rooms/{room_id}/catalog", dependencies=[Depends(host_only)])
async def put_catalog(room_id: str, catalog: Catalog, rt: RuntimeDep) -> dict[str, int]:
    await rt.rooms.put_catalog(room_id, catalog)
    return {"products": len(catalog.products)}


@router.get("/v1/rooms/{room_id}/catalog", dependencies=[Depends(host_only)])
async def get_catalog(room_id: str, rt: RuntimeDep) -> Catalog:
    return await rt.services.store.catalog(room_id)


@router.put("/v1/rooms/{room_id}/shop", dependencies=[Depends(host_only)])
async def put_shop(room_id: str, shop: ShopInfo, rt: RuntimeDep) -> ShopInfo:
    """Replace the room's shop facts (how to buy, shipping, returns, ...); products are kept."""
    await rt.rooms.put_shop(room_id, shop)
    return shop


@router.get("/v1/rooms/{room_id}/shop", dependencies=[Depends(host_only)])
async def get_shop(room_id: str, rt: RuntimeDep) -> ShopInfo:
    return (await rt.services.store.catalog(room_id)).shop


@router.post("/v1/rooms/{room_id}/frames", status_code=202, dependencies=[Depends(host_only)])
async def post_frame(room_id: str, request: Request, rt: RuntimeDep) -> dict[str, str]:
    """Upload one JPEG or PNG frame as the raw request body; the newest frame wins."""
    limit = rt.services.settings.ws.max_frame_bytes
    data = check_frame(await read_body(request, limit, "frame"), limit)
    frame = Frame(room_id=room_id, data=data)
    await rt.services.bus.publish(frame)
    return {"frame_id": frame.id}
