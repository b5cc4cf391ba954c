"""The room WebSocket: token auth, per-role checks on each message, and event fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from assistant.access import Sessions
from assistant.bus import Subscription
from assistant.errors import (
    AssistantError,
    BadMessage,
    Flooding,
    Forbidden,
    RateLimited,
    TooLarge,
)
from assistant.events import (
    AudioChunk,
    Chat,
    Engagement,
    Error,
    Event,
    Frame,
    Role,
    Session,
    User,
    new_id,
    parse_event,
    types_for,
)
from assistant.frames import check_frame
from assistant.runtime import Runtime
from assistant.server import direct_sender, evict, raise_frame_limit, text_frame
from assistant.untrusted import poses_as_staff

log = logging.getLogger(__name__)
router = APIRouter()


class Connection:
    def __init__(
        self, ws: WebSocket, rt: Runtime, room_id: str, role: Role, user_id: str | None
    ) -> None:
        self.ws = ws
        self.rt = rt
        self.room_id = room_id
        self.role = role
        self.user_id = user_id  # a viewer's, from its signed session; None for staff
        self.id = new_id()
        self.address = ws.client.host if ws.client else "-"
        self.refused = 0  # rate-limited messages in a row
        self.batch = ws.query_params.get("batch") == "1"
        self.inflight: set[asyncio.Task[None]] = set()
        self.settings = rt.services.settings.ws
        self.write_frame = direct_sender(ws)

    async def send_event(self, event: Event) -> None:
        if isinstance(event, AudioChunk):
            header = event.model_dump_json(exclude={"data"})
            await self.ws.send_text(header)
            await self.ws.send_bytes(event.data)
            return
        await self.ws.send_text(event.wire())

    def direct(self, event: Event) -> bool:
        """Take an event on the spot, skipping the pump: its frame, encoded once for everyone
        who gets it, written now (False: the pump sends it, in order, as usual)."""
        if self.write_frame is None or isinstance(event, AudioChunk):
            return False
        if not event.visible_to(self.role, self.user_id):
            return True
        return self.write_frame(event.frame(text_frame))

    async def send_batch(self, texts: list[str]) -> None:
        """Send waiting events as one JSON array frame; a busy room costs one frame, not N."""
        if texts:
            await self.ws.send_text(texts[0] if len(texts) == 1 else f"[{','.join(texts)}]")

    def error_event(self, exc: AssistantError) -> Error:
        self.rt.metrics.rejected.labels(exc.code).inc()
        return Error(room_id=self.room_id, code=exc.code, message=exc.message, details=exc.details)

    async def send_error(self, exc: AssistantError) -> None:
        await self.ws.send_text(self.error_event(exc).wire())

    async def pump(self, sub: Subscription) -> None:
        async for event in sub:
            if not self.batch:
                if event.visible_to(self.role, self.user_id):
                    await self.send_event(event)
                continue
            texts: list[str] = []
            for queued in [event, *sub.drain(self.settings.batch_max - 1)]:
                if not queued.visible_to(self.role, self.user_id):
                    continue
                if isinstance(queued, AudioChunk):
                    await self.send_batch(texts)
                    texts = []
                    await self.send_event(queued)
                else:
                    texts.append(queued.wire())
            await self.send_batch(texts)

    async def watch(self, sub: Subscription) -> None:
        """Close the socket with 1013 once its inbox overflows: the pump may be stuck in a send
        to a client that stopped reading, so the close cannot wait for it."""
        if await sub.wait_closed() == "slow_consumer":
            self.rt.metrics.rejected.labels("slow_consumer").inc()
            await evict(self.ws, 1013, "slow consumer")

    async def handle(self, message: MutableMapping[str, Any]) -> None:
        if self.role == "viewer":
            await self.check_rate()  # before any parsing: a refused message costs next to nothing
        if message.get("bytes") is not None:
            await self.handle_frame(message["bytes"])
            return
        text: str = message.get("text") or ""
        if len(text.encode()) > self.settings.max_text_bytes:
            raise TooLarge(f"message larger than {self.settings.max_text_bytes} bytes")
        try:
            event = parse_event(text)
        except ValidationError as exc:
            details: list[dict[str, object]] = [
                {"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()[:10]
            ]
            raise BadMessage("malformed or unknown message", details=details) from exc
        if self.role not in type(event).senders:
            raise Forbidden(f"a {self.role} may not send {event.type!r}")
        stamped = {"room_id": self.room_id, "ts": time.time()}
        if isinstance(event, Chat | Engagement):
            stamped["id"] = new_id()
            if self.role == "viewer" and self.user_id is not None:
                stamped["user"] = self.viewer(event)
        if isinstance(event, Chat):
            stamped["role"] = self.role
            await self.pipeline(event.model_copy(update=stamped))
            return
        await self.rt.services.bus.publish(event.model_copy(update=stamped))

    async def pipeline(self, chat: Chat) -> None:
        """Ingest without waiting for the previous line's commit, up to ``ws.pipeline`` in flight.

        Tasks start in arrival order and commit in group batches, so acks keep their order.
        """
        while len(self.inflight) >= self.settings.pipeline:
            await asyncio.wait(self.inflight, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self.ingest(chat), name=f"ws-chat-{self.room_id}")
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def ingest(self, chat: Chat) -> None:
        started = time.perf_counter()
        reply: Event
        try:
            reply = await self.rt.triage.ingest(chat)
            self.rt.metrics.chat_ingest.observe(time.perf_counter() - started)
        except AssistantError as exc:
            reply = self.error_event(exc)
        except Exception:
            log.exception("could not ingest a chat line in room %s", self.room_id)
            reply = self.error_event(AssistantError("the message could not be accepted"))
        # The client may be gone by the time the line is committed; the line is kept anyway.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.ws.send_text(reply.wire())

    async def finish(self) -> None:
        """Let accepted lines finish persisting after the client left; their acks go nowhere."""
        await asyncio.gather(*self.inflight, return_exceptions=True)

    def viewer(self, event: Chat | Engagement) -> User:
        """The sender as the server knows it: the session's id, whatever id the client sent."""
        if poses_as_staff(event.user.name):
            raise Forbidden("that display name is reserved for staff and the bot")
        return User(id=self.user_id or event.user.id, name=event.user.name)

    async def check_rate(self) -> None:
        """Every viewer message counts against its connection, its address and its room."""
        limits = self.rt.services.settings.limits
        allow = self.rt.services.limiter.allow
        if (
            await allow(limits.viewer_per_connection, "conn", self.id)
            and await allow(limits.viewer_per_address, "addr", self.address)
            and await allow(limits.viewer_per_room, "room", self.room_id)
        ):
            self.refused = 0
            return
        self.refused += 1
        if self.refused > limits.refusals_before_close:
            raise Flooding("too many messages refused in a row; closing")
        raise RateLimited("too many messages; slow down")

    async def handle_frame(self, data: bytes) -> None:
        if self.role != "host":
            raise Forbidden("only the host may send frames")
        frame = Frame(room_id=self.room_id, data=check_frame(data, self.settings.max_frame_bytes))
        await self.rt.services.bus.publish(frame)


async def refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code=code, reason=reason)


def sessions(rt: Runtime) -> Sessions:
    server = rt.services.settings.server
    return Sessions((server.session_secret or server.admin_token).get_secret_value())


@router.websocket("/v1/rooms/{room_id}/ws")
async def room_socket(
    websocket: WebSocket, room_id: str, token: str = "", session: str = ""
) -> None:
    rt: Runtime = websocket.app.state.runtime
    address = websocket.client.host if websocket.client else "-"
    limiter = rt.services.limiter
    # Counted before the token is looked up: a flood of connects costs no store query.
    if not await limiter.allow(rt.services.settings.limits.connects_per_address, "new", address):
        await refuse(websocket, 1013, "too many new connections; retry later")
        return
    # An unknown room closes like a bad token, so room ids cannot be probed for.
    role = await rt.services.store.role_for(room_id, token) if token else None
    if role is None:
        await refuse(websocket, 4401, "invalid token")
        return
    await rt.rooms.ensure_open(room_id)
    full = limiter.connect(address, room_id)
    if full is not None:
        await refuse(websocket, 1013, full)
        return
    try:
        await serve_socket(websocket, rt, room_id, role, session)
    finally:
        limiter.disconnect(address, room_id)


async def serve_socket(
    websocket: WebSocket, rt: Runtime, room_id: str, role: Role, session: str
) -> None:
    user_id = None
    if role == "viewer":
        signer = sessions(rt)
        user_id = signer.verify(room_id, session)
        if user_id is None:
            user_id, session = signer.issue(room_id)
    else:
        raise_frame_limit(websocket, rt.services.settings.ws.protocol_limit)
    # Subscribe before the handshake completes, so nothing published after connect is missed.
    ws_settings = rt.services.settings.ws
    sub = await rt.services.bus.subscribe(
        room_id,
        types_for(role),
        maxsize=ws_settings.send_queue,
        max_bytes=ws_settings.send_buffer_bytes,
    )
    conn = Connection(websocket, rt, room_id, role, user_id)
    rt.metrics.connected(room_id, role, 1)
    pump: asyncio.Task[None] | None = None
    watch: asyncio.Task[None] | None = None
    try:
        await websocket.accept()
        if user_id is not None:
            await websocket.send_text(
                Session(room_id=room_id, user_id=user_id, session=session).wire()
            )
        sub.direct = conn.direct  # after the session line: nothing may overtake it
        pump = asyncio.create_task(conn.pump(sub), name=f"ws-pump-{room_id}")
        watch = asyncio.create_task(conn.watch(sub), name=f"ws-watch-{room_id}")
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            try:
                await conn.handle(message)
            except Flooding as exc:
                await conn.send_error(exc)
                await websocket.close(code=1008, reason="too many messages")
                break
            except AssistantError as exc:
                await conn.send_error(exc)
            # Messages already buffered come back without a wait: let other sockets have a turn.
            await asyncio.sleep(0)
    except (WebSocketDisconnect, RuntimeError, OSError):
        log.debug("client left room %s", room_id)
    finally:
        await conn.finish()
        rt.metrics.connected(room_id, role, -1)
        sub.close()
        for task in (pump, watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
