"""HTTP routes: health, metrics, rooms, catalogs and frame upload, with typed error bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError

from assistant import access
from assistant.access import bearer, host_role, read_body, same_secret
from assistant.catalog import Catalog, ShopInfo
from assistant.errors import Invalid, Unauthorized
from assistant.events import Frame, Role
from assistant.frames import check_frame
from assistant.ready import Readiness, readiness
from assistant.rooms import RoomCreate, RoomCreated
from assistant.runtime import Runtime

router = APIRouter()
M = TypeVar("M", bound=BaseModel)
# Request bodies of json_body routes, added to the OpenAPI components by create_app.
BODY_MODELS: dict[str, type[BaseModel]] = {}


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def header_token(authorization: Annotated[str | None, Header()] = None) -> str | None:
    return bearer(authorization)


async def room_role(
    room_id: str,
    rt: RuntimeDep,
    header_token: Annotated[str | None, Depends(header_token)],
    token: Annotated[str | None, Query()] = None,
) -> Role:
    """Resolve the caller's role in a room from a bearer header or ``?token=``.

    An unknown room is refused like a bad token, so room ids cannot be probed for.
    """
    role = await access.room_role(rt.services.store, room_id, header_token or token)
    await rt.rooms.ensure_open(room_id)
    return role


async def host_only(role: Annotated[Role, Depends(room_role)]) -> Role:
    return host_role(role)


def json_body(model: type[M], limit: Callable[[Runtime], int]) -> Callable[..., Awaitable[M]]:
    """A dependency that reads and validates a JSON body after the route's auth dependencies.

    FastAPI reads a pydantic body parameter before any dependency runs, so an anonymous caller
    could make the service parse megabytes; this one is declared after the auth, capped while
    streaming, and parsed in a worker thread.
    """

    async def parse(request: Request, rt: RuntimeDep) -> M:
        raw = await read_body(request, limit(rt), model.__name__)
        try:
            return await asyncio.to_thread(model.model_validate_json, raw)
        except ValidationError as exc:
            details: list[dict[str, object]] = [
                {"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()[:20]
            ]
            raise Invalid("request failed validation", details=details) from None

    return parse


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a ``json_body`` route (create_app adds the schema)."""
    BODY_MODELS[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def small_body(rt: Runtime) -> int:
    return rt.services.settings.server.max_body_bytes


def catalog_body(rt: Runtime) -> int:
    return rt.services.settings.server.max_catalog_bytes


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests (readiness is ``/readyz``)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(rt: RuntimeDep, response: Response) -> Readiness:
    """Whether the bus, the store and the models are usable now (503 when not)."""
    report = await readiness(rt)
    if report.status != "ready":
        response.status_code = 503
    return report


@router.get("/metrics")
async def metrics(rt: RuntimeDep) -> Response:
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def admin_only(rt: RuntimeDep, token: Annotated[str | None, Depends(header_token)]) -> None:
    if not same_secret(token, rt.services.settings.server.admin_token.get_secret_value()):
        raise Unauthorized("admin bearer token required")


@router.post(
    "/v1/rooms",
    status_code=201,
    dependencies=[Depends(admin_only)],
    openapi_extra=body_doc(RoomCreate),
)
async def create_room(
    spec: Annotated[RoomCreate, Depends(json_body(RoomCreate, small_body))], rt: RuntimeDep
) -> RoomCreated:
    return await rt.rooms.create(spec)


@router.put(
    "/v1/rooms/{room_id}/catalog",
    dependencies=[Depends(host_only)],
    openapi_extra=body_doc(Catalog),
)
async def put_catalog(
    room_id: str,
    catalog: Annotated[Catalog, Depends(json_body(Catalog, catalog_body))],
    rt: RuntimeDep,
) -> dict[str, int]:
    await rt.rooms.put_catalog(room_id, catalog)
    return {"products": len(catalog.products)}


@router.get("/v1/rooms/{room_id}/catalog", dependencies=[Depends(host_only)])
async def get_catalog(room_id: str, rt: RuntimeDep) -> Catalog:
    return await rt.services.store.catalog(room_id)


@router.put(
    "/v1/rooms/{room_id}/shop", dependencies=[Depends(host_only)], openapi_extra=body_doc(ShopInfo)
)
async def put_shop(
    room_id: str,
    shop: Annotated[ShopInfo, Depends(json_body(ShopInfo, small_body))],
    rt: RuntimeDep,
) -> ShopInfo:
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
