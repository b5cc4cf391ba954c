"""Routes: a host starts, lists and stops connectors; capture tools post to a relay."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, RootModel

from assistant.access import read_body
from assistant.api import RuntimeDep, body_doc, header_token, host_only, json_body, small_body
from assistant.connectors.base import ConnectorStatus
from assistant.connectors.manager import Running
from assistant.connectors.relay import RelayConnector, parse_relay
from assistant.connectors.specs import ConnectorSpec
from assistant.errors import AssistantError, TooLarge
from assistant.events import Error
from assistant.runtime import Runtime

router = APIRouter()
HostOnly = Depends(host_only)
RELAY_MAX_BYTES = 1024 * 1024


class ConnectorCreate(RootModel[ConnectorSpec]):
    """One connector's settings; ``kind`` picks which."""


class ConnectorStarted(BaseModel):
    """A started connector; a relay's token and path are shown here only, once."""

    status: ConnectorStatus
    relay_token: str | None = None
    relay_path: str | None = None


class RelayAccepted(BaseModel):
    accepted: int
    dropped: int
    errors: list[str]


@router.post(
    "/v1/rooms/{room_id}/connectors",
    status_code=201,
    dependencies=[HostOnly],
    openapi_extra=body_doc(ConnectorCreate),
)
async def start_connector(
    room_id: str,
    body: Annotated[ConnectorCreate, Depends(json_body(ConnectorCreate, small_body))],
    rt: RuntimeDep,
) -> ConnectorStarted:
    running = await rt.connectors.start(room_id, body.root)
    path = f"/v1/rooms/{room_id}/connectors/{running.status.id}/relay"
    return ConnectorStarted(
        status=running.status,
        relay_token=running.token,
        relay_path=path if running.token else None,
    )


@router.get("/v1/rooms/{room_id}/connectors", dependencies=[HostOnly])
async def list_connectors(room_id: str, rt: RuntimeDep) -> list[ConnectorStatus]:
    return rt.connectors.statuses(room_id)


@router.delete("/v1/rooms/{room_id}/connectors/{connector_id}", dependencies=[HostOnly])
async def stop_connector(room_id: str, connector_id: str, rt: RuntimeDep) -> ConnectorStatus:
    return await rt.connectors.stop(room_id, connector_id)


async def feed(running: Running, payload: bytes) -> RelayAccepted:
    connector = running.connector
    assert isinstance(connector, RelayConnector)
    batch = await asyncio.to_thread(parse_relay, payload)  # up to 1 MiB of JSON: off the loop
    accepted = connector.feed(batch)
    for _ in batch.errors:
        running.sink.dropped("malformed")
    dropped = len(batch.errors) + len(batch.items) - accepted
    return RelayAccepted(accepted=accepted, dropped=dropped, errors=batch.errors[:20])


@router.post("/v1/rooms/{room_id}/connectors/{connector_id}/relay")
async def relay_post(
    room_id: str,
    connector_id: str,
    request: Request,
    rt: RuntimeDep,
    header: Annotated[str | None, Depends(header_token)],
    token: Annotated[str | None, Query()] = None,
) -> RelayAccepted:
    """A capture tool's batch: normalised JSON (an object or an array) or Douyin's {Type, Data}."""
    running = rt.connectors.relay(room_id, connector_id, header or token)
    return await feed(running, await read_body(request, RELAY_MAX_BYTES, "relay batch"))


@router.websocket("/v1/rooms/{room_id}/connectors/{connector_id}/relay")
async def relay_socket(
    websocket: WebSocket, room_id: str, connector_id: str, token: str = ""
) -> None:
    """The same relay over one WebSocket: each text message a batch, each answered with counts."""
    rt: Runtime = websocket.app.state.runtime

    def relay() -> Running | None:
        try:
            return rt.connectors.relay(room_id, connector_id, token)
        except AssistantError:
            return None

    await websocket.accept()
    try:
        while relay() is not None:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            running = relay()  # stopped while the batch was on its way: the loop ends
            if running is None:
                break
            raw = message.get("bytes") or (message.get("text") or "").encode()
            try:
                if len(raw) > RELAY_MAX_BYTES:
                    raise TooLarge(f"relay batch larger than {RELAY_MAX_BYTES} bytes")
                reply = (await feed(running, raw)).model_dump_json()
            except AssistantError as exc:
                reply = Error(room_id=room_id, code=exc.code, message=exc.message).wire()
            await websocket.send_text(reply)
        await websocket.close(code=4401, reason="invalid relay token")
    except WebSocketDisconnect:
        return
