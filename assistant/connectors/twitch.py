"""Twitch chat, follows and cheers over EventSub WebSocket; answers posted back through Helix."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from assistant.connectors.base import (
    ConnectorError,
    ConnectorKind,
    PlatformActivity,
    PlatformMessage,
    PlatformUser,
    Sink,
)
from assistant.connectors.specs import TwitchSpec
from assistant.connectors.twitch_wire import (
    TIMEOUT_S,
    ChatEvent,
    Envelope,
    SessionInfo,
    Sockets,
    Subscribed,
    UserEvent,
    parse_time,
    silence_allowed,
)
from assistant.seen import Seen

log = logging.getLogger(__name__)

CHAT = "channel.chat.message"
MAX_MESSAGE_CHARS = 500  # Helix Send Chat Message refuses longer messages
MAX_SLOT_WAIT_S = 30.0  # an answer later than this would be stale in a live chat
SEEN_IDS = 4096
# Revocations no reconnect can undo: the token was withdrawn or the user is gone.
PERMANENT_REVOCATIONS = frozenset({"authorization_revoked", "user_removed"})
M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: dict[str, Any], sink: Sink) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        log.debug("twitch: malformed %s: %s", model.__name__, exc)
        sink.dropped("malformed")  # reasons are metric labels: a few fixed words
        return None


class TwitchConnector:
    """One channel's chat (with follows and cheers where the token allows) and answers to it."""

    kind: ConnectorKind = "twitch"

    def __init__(self, spec: TwitchSpec) -> None:
        self.spec = spec
        self._next_slot = 0.0  # monotonic time from which the next answer may be posted

    def _client(self) -> httpx.AsyncClient:
        token = self.spec.access_token.get_secret_value()
        headers = {"Authorization": f"Bearer {token}", "Client-Id": self.spec.client_id}
        return httpx.AsyncClient(base_url=self.spec.api_base, headers=headers, timeout=TIMEOUT_S)

    async def run(self, sink: Sink) -> None:
        sockets = Sockets()
        seen = Seen(SEEN_IDS)  # recent message ids: Twitch delivers at least once
        subscribed = False
        patience = TIMEOUT_S  # until the welcome says otherwise
        try:
            async with self._client() as http:
                sockets.current = await sockets.open(self.spec.eventsub_url)
                while True:
                    try:
                        async with asyncio.timeout(patience):
                            ws, raw = await sockets.frames.get()
                    except TimeoutError:
                        raise ConnectorError(f"Twitch sent nothing for {patience:.1f} s") from None
                    if raw is None:
                        if sockets.ended(ws):
                            raise ConnectorError(f"Twitch closed the socket (code {ws.close_code})")
                        continue
                    try:
                        envelope = Envelope.model_validate_json(raw)
                    except ValidationError:
                        sink.dropped("malformed")
                        continue
                    kind = envelope.type
                    if kind == "session_keepalive" or not seen.first(envelope.id):
                        continue
                    if kind in ("session_welcome", "session_reconnect"):
                        session = _parse(SessionInfo, envelope.payload, sink)
                        if session is None:
                            continue
                        if kind == "session_reconnect":
                            if session.reconnect_url:
                                sockets.moving_to = await sockets.open(session.reconnect_url)
                            continue
                        patience = silence_allowed(session.keepalive_s)
                        if ws is sockets.moving_to:  # the subscriptions moved with the session
                            await sockets.adopt(ws)
                        elif not subscribed:
                            await self._subscribe(http, session.id)
                            subscribed = True
                            sink.connected(f"EventSub session {session.id}")
                    elif kind == "notification":
                        await self._notification(envelope, sink)
                    elif kind == "revocation":
                        self._revocation(envelope, sink)
                    else:
                        log.debug("twitch: unknown message type %.64r", kind)
                        sink.dropped("unknown_type")
        finally:
            await sockets.close_all()

    async def _subscribe(self, http: httpx.AsyncClient, session_id: str) -> None:
        broadcaster, bot = self.spec.broadcaster_id, self.spec.bot_user_id
        wanted: list[tuple[str, str, dict[str, str]]] = [
            (CHAT, "1", {"broadcaster_user_id": broadcaster, "user_id": bot}),
            ("channel.follow", "2", {"broadcaster_user_id": broadcaster, "moderator_user_id": bot}),
            ("channel.cheer", "1", {"broadcaster_user_id": broadcaster}),
        ]
        transport = {"method": "websocket", "session_id": session_id}
        for kind, version, condition in wanted:
            body = {"type": kind, "version": version, "condition": condition}
            body["transport"] = transport
            try:
                response = await http.post("/eventsub/subscriptions", json=body)
            except httpx.HTTPError as exc:
                raise ConnectorError(f"cannot reach Helix to subscribe to {kind}: {exc}") from exc
            status = response.status_code
            if status in (200, 202, 409):  # 409: this session has it already
                continue
            detail = f"subscribing to {kind} got HTTP {status}: {response.text[:200]}"
            if status == 401:
                raise ConnectorError(f"Twitch refused the token: {detail}", retryable=False)
            if kind != CHAT:
                # follows need a moderator's token and cheers the broadcaster's: chat works without
                log.warning("twitch: %s; going on without it", detail)
            elif status in (400, 403):  # a wrong id or a missing scope: retrying cannot help
                raise ConnectorError(detail, retryable=False)
            else:
                raise ConnectorError(detail)

    async def _notification(self, envelope: Envelope, sink: Sink) -> None:
        note = _parse(Subscribed, envelope.payload, sink)
        if note is None:
            return
        kind, msg_id, sent_at = note.kind, envelope.id, parse_time(envelope.timestamp)
        if kind == CHAT:
            chat = _parse(ChatEvent, note.event, sink)
            # the bot's own answers come back as chat: passing them on would answer the answers
            if chat is None or chat.chatter_user_id == self.spec.bot_user_id:
                return
            user = PlatformUser(id=chat.chatter_user_id, name=chat.chatter_user_name[:256])
            text = chat.text[:4000]
            message = PlatformMessage(id=chat.message_id, user=user, text=text, sent_at=sent_at)
            await sink.chat(message)
            return
        event = _parse(UserEvent, note.event, sink)
        if event is None:
            return
        anonymous = event.is_anonymous or not event.user_id
        user = PlatformUser(
            id="anonymous" if anonymous else str(event.user_id),
            name="" if anonymous else (event.user_name or "")[:256],
        )
        if kind == "channel.follow" and not anonymous:
            follow = PlatformActivity(id=msg_id, user=user, kind="follow", sent_at=sent_at)
            await sink.activity(follow)
        elif kind == "channel.cheer" and 1 <= event.bits <= 1_000_000:
            bits = event.bits
            cheer = PlatformActivity(
                id=msg_id,
                user=user,
                kind="gift",
                count=bits,
                value=bits,
                item="bits",
                sent_at=sent_at,
            )
            await sink.activity(cheer)
        else:
            log.debug("twitch: unusable %.64r notification: %s", kind, note.event)
            sink.dropped("unusable")

    def _revocation(self, envelope: Envelope, sink: Sink) -> None:
        revoked = _parse(Subscribed, envelope.payload, sink)
        if revoked is None:
            return
        kind, status = revoked.kind, revoked.status
        if status in PERMANENT_REVOCATIONS:
            raise ConnectorError(f"Twitch revoked {kind}: {status}", retryable=False)
        if kind == CHAT:  # chat is this connector's point: a fresh session subscribes again
            raise ConnectorError(f"Twitch revoked the chat subscription: {status}")
        log.warning("twitch: %s revoked (%s); going on without it", kind, status)

    async def reply(self, text: str, to: PlatformMessage | None) -> bool:
        """Post ``text`` to the channel's chat (as a reply to ``to``): True once Twitch took it,
        False when dropped (posting off, no free slot within 30 s, or refused by Twitch)."""
        text = text.strip()
        if not self.spec.post_answers or not text:
            return False
        now = time.monotonic()
        slot = max(now, self._next_slot)
        if slot - now > MAX_SLOT_WAIT_S:
            log.info("twitch: answer dropped, the next free slot is %.0f s away", slot - now)
            return False
        # reserve the slot before waiting, so that concurrent answers line up one interval apart
        self._next_slot = slot + self.spec.reply_interval_s
        if slot > now:
            await asyncio.sleep(slot - now)
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[: MAX_MESSAGE_CHARS - 1] + "…"
        body = {"broadcaster_id": self.spec.broadcaster_id, "sender_id": self.spec.bot_user_id}
        body["message"] = text
        if to is not None:
            body["reply_parent_message_id"] = to.id
        try:
            async with self._client() as http:
                response = await http.post("/chat/messages", json=body)
            response.raise_for_status()
            sent = response.json()["data"][0]
            if sent["is_sent"] is True:
                return True
        except (httpx.HTTPError, ValueError, LookupError, TypeError) as exc:
            log.warning("twitch: answer not posted: %s", exc)
            return False
        log.warning("twitch: Twitch dropped the answer: %s", sent.get("drop_reason"))
        return False
