"""PUT, GET and DELETE /v1/rooms/{room_id}/anchor/push: a room's push, for its host only."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.access import bearer, host_role, read_body, room_role
from assistant.errors import Invalid, NotFound
from avatar.push.errors import NotAnchorRoom, PushUnavailable
from avatar.push.protocol import Card
from avatar.push.room import PushStatus, RoomPush
from avatar.push.urls import checked

if TYPE_CHECKING:
    from assistant.plugins import Services
    from assistant.store import RoomRecord

MAX_BODY_BYTES = 4096
PATH = "/v1/rooms/{room_id}/anchor/push"


class PushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="rtmp://host/app/stream-key or rtmps://…")


class Pushes:
    """The pushes this instance runs, one per room at most."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.rooms: dict[str, RoomPush] = {}
        self._lock = asyncio.Lock()

    async def host(self, room_id: str, request: Request) -> RoomRecord:
        """The room, when the caller holds its host token (a bearer header or ``?token=``);
        an unknown room is refused like a bad token, so room ids cannot be probed for."""
        token = bearer(request.headers.get("authorization")) or request.query_params.get("token")
        host_role(await room_role(self.services.store, room_id, token))
        return await self.services.store.room(room_id)

    async def start(self, room: RoomRecord, url: str) -> PushStatus:
        """Start the room's push, replacing the one it had."""
        if room.mode != "anchor":
            raise NotAnchorRoom(f"room {room.room_id} has no virtual anchor to push")
        missing = [name for name in ("av", "PIL") if importlib.util.find_spec(name) is None]
        if missing:
            fix = "pip install -e '.[connectors]' (PyAV) and Pillow"
            raise PushUnavailable(f"the anchor push needs {', '.join(missing)}: {fix}")
        settings = self.services.settings.avatar.push
        async with self._lock:
            await self.stop(room.room_id)
            push = RoomPush(
                room.room_id,
                url,
                bus=self.services.bus,
                settings=settings,
                supervisor=self.services.supervisor,
                language=room.language,
                card=await self._card(room.room_id),
            )
            await push.start()
            self.rooms[room.room_id] = push
            return push.status()

    async def stop(self, room_id: str) -> PushStatus | None:
        push = self.rooms.pop(room_id, None)
        if push is None:
            return None
        await push.stop()
        return push.status()

    def status(self, room_id: str) -> PushStatus:
        push = self.rooms.get(room_id)
        if push is None:
            raise NotFound(f"room {room_id} has no push on this instance")
        return push.status()

    async def close(self) -> None:
        await asyncio.gather(*(self.stop(room_id) for room_id in list(self.rooms)))

    async def _card(self, room_id: str) -> Card | None:
        """The product on stage now: a card is only published when it changes."""
        sku = self.services.stage.sku(room_id)
        if sku is None:
            return None
        catalog = await self.services.store.catalog(room_id)
        product = next((p for p in catalog.products if p.sku == sku), None)
        if product is None:
            return None
        point = product.selling_points[0] if product.selling_points else ""
        return Card(title=product.title, price=product.price, list_price=product.list_price,
                    point=point, stock=product.stock)  # fmt: skip


def build_router(pushes: Pushes) -> APIRouter:
    router = APIRouter(tags=["anchor push"])
    body = {"content": {"application/json": {"schema": PushRequest.model_json_schema()}}}

    @router.put(PATH, openapi_extra={"requestBody": body})
    async def start_push(room_id: str, request: Request) -> PushStatus:
        """Push the virtual anchor's program (H.264 + AAC in FLV) to an RTMP(S) URL, replacing
        the room's push if it had one. The status hides the stream key."""
        room = await pushes.host(room_id, request)
        raw = await read_body(request, MAX_BODY_BYTES, "push request")
        try:
            url = checked(PushRequest.model_validate_json(raw).url)
        except ValidationError as exc:
            details: list[dict[str, object]] = [
                {"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()[:20]
            ]
            raise Invalid("request failed validation", details=details) from None
        return await pushes.start(room, url)

    @router.get(PATH)
    async def push_status(room_id: str, request: Request) -> PushStatus:
        """State (connecting, live, reconnecting, stopped, failed), counters, the last error."""
        await pushes.host(room_id, request)
        return pushes.status(room_id)

    @router.delete(PATH)
    async def stop_push(room_id: str, request: Request) -> PushStatus:
        """Stop the room's push; returns its last status."""
        await pushes.host(room_id, request)
        status = await pushes.stop(room_id)
        if status is None:
            raise NotFound(f"room {room_id} has no push on this instance")
        return status

    return router
