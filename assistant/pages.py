"""The host console and the OBS overlay: static pages under assistant/static, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from assistant.api import RuntimeDep
from assistant.errors import Forbidden, Unauthorized
from assistant.events import Role

STATIC = Path(__file__).resolve().parent / "static"
router = APIRouter()

# The token travels in the page's address (OBS has nowhere else to put it): never send it on
# as a referrer, and let the pages talk to this origin only.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' blob: data:; "
        "style-src 'self'; script-src 'self'; media-src 'self' blob:; frame-ancestors 'none'"
    ),
}


async def _page(
    rt: RuntimeDep, room_id: str, token: str, roles: set[Role], page: str
) -> FileResponse:
    # no lookup of the room first: an unknown room and a bad token must read the same
    role = await rt.services.store.role_for(room_id, token) if token else None
    if role is None:
        raise Unauthorized("missing or invalid room token: add ?token=... to the address")
    if role not in roles:
        raise Forbidden(f"this page needs a {' or '.join(sorted(roles))} token, not a {role} one")
    return FileResponse(STATIC / page, media_type="text/html", headers=_HEADERS)


@router.get("/console/{room_id}", include_in_schema=False)
async def console(room_id: str, rt: RuntimeDep, token: str = "") -> FileResponse:
    return await _page(rt, room_id, token, {"host"}, "console.html")


@router.get("/overlay/{room_id}", include_in_schema=False)
async def overlay(room_id: str, rt: RuntimeDep, token: str = "") -> FileResponse:
    return await _page(rt, room_id, token, {"anchor", "viewer"}, "overlay.html")


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
