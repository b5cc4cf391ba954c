"""The room side of a connector: dedupe, viewer mapping, limits and counts, then the room."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from assistant.bus import EventBus
from assistant.connectors.base import (
    ConnectorKind,
    ConnectorStatus,
    PlatformActivity,
    PlatformMessage,
    PlatformUser,
)
from assistant.errors import AssistantError
from assistant.events import Activity, Chat, Engagement, Frame, User
from assistant.frames import check_frame
from assistant.seen import Seen
from assistant.triage import Triage
from assistant.untrusted import display_name

MAX_TEXT = 500
SEEN = 20_000  # platform ids remembered: a reconnect replays at most a few hundred
ASKED = 2_000  # questions remembered for posting their answers back
FLOODS = frozenset({"like", "enter", "share"})  # cut past a rate; gifts and purchases never


class ConnectorMetrics:
    """Per-kind counters on the app's registry (never per room: /metrics needs no token)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, label: str) -> Counter:
            return Counter(f"lca_connector_{name}", doc, ["kind", label], registry=registry)

        self.received = counter("received", "Items read from platforms", "what")
        self.dropped = counter("dropped", "Items from platforms not used", "reason")
        self.replies = counter("replies", "Answers posted back to platforms", "outcome")
        self.reconnects = Counter(
            "lca_connector_reconnects",
            "Connector reconnects after a failure",
            ["kind"],
            registry=registry,
        )
        self.lag = Histogram(
            "lca_connector_lag_seconds",
            "Platform send time to the room's acceptance",
            ["kind"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=registry,
        )


class RoomSink:
    """Feeds one connector's items into one room: chat through triage (persisted, ranked,
    answered or skipped like any viewer's), activity onto the bus, frames into the frame path."""

    def __init__(
        self,
        *,
        room_id: str,
        kind: ConnectorKind,
        platform: str,
        status: ConnectorStatus,
        triage: Triage,
        bus: EventBus,
        metrics: ConnectorMetrics,
        max_frame_bytes: int,
        activity_per_s: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.room_id = room_id
        self.kind = kind
        self.platform = platform
        self.status = status
        self.triage = triage
        self.bus = bus
        self.metrics = metrics
        self.max_frame_bytes = max_frame_bytes
        self.activity_per_s = activity_per_s
        self.clock = clock
        self._seen = Seen(SEEN)
        self._asked: OrderedDict[str, PlatformMessage] = OrderedDict()
        self._window = (0.0, 0)  # (second, activities published in it)

    def question_for(self, chat_id: str) -> PlatformMessage | None:
        """The platform message a room chat id came from, while it is remembered."""
        return self._asked.get(chat_id)

    def viewer(self, user: PlatformUser) -> User:
        """A platform user as a room viewer: an id in the platform's namespace (hashed when
        long), the name as the bot may show and say it."""
        raw = f"{self.platform}:{user.id}"
        uid = (
            raw
            if len(raw) <= 64
            else f"{self.platform}:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"
        )
        return User(id=uid, name=display_name(user.name, uid)[:64])

    async def chat(self, message: PlatformMessage) -> None:
        if not self._seen.first(f"m:{message.id}"):
            self.dropped("duplicate")
            return
        text = message.text.strip()[:MAX_TEXT]
        if not text:
            self.dropped("empty")
            return
        chat = Chat(room_id=self.room_id, user=self.viewer(message.user), text=text)
        try:
            await self.triage.ingest(chat)
        except AssistantError as exc:
            self.dropped(exc.code)
            return
        self._asked[chat.id] = message
        if len(self._asked) > ASKED:
            self._asked.popitem(last=False)
        self._received("chat", message.sent_at)

    async def activity(self, activity: PlatformActivity) -> None:
        if not self._seen.first(f"a:{activity.id}"):
            self.dropped("duplicate")
            return
        if activity.kind in FLOODS and not self._allow_activity():
            self.dropped("activity_flood")
            return
        user = self.viewer(activity.user)
        if activity.kind == "purchase" and activity.sku:
            await self.bus.publish(
                Engagement(room_id=self.room_id, user=user, sku=activity.sku, action="purchase")
            )
        await self.bus.publish(
            Activity(
                room_id=self.room_id,
                platform=self.platform,
                user=user,
                kind=activity.kind,
                count=activity.count,
                item=activity.item,
                value=activity.value,
            )
        )
        self._received("activity", activity.sent_at)

    async def frame(self, data: bytes) -> None:
        try:
            await self.bus.publish(
                Frame(room_id=self.room_id, data=check_frame(data, self.max_frame_bytes))
            )
        except AssistantError as exc:
            self.dropped(exc.code)
            return
        self._received("frame", None)

    def connected(self, detail: str = "") -> None:
        self.status.state = "connected"
        self.status.detail = detail
        self.status.since = self.clock()

    def dropped(self, reason: str) -> None:
        self.status.dropped += 1
        self.metrics.dropped.labels(self.kind, reason).inc()

    def _received(self, what: str, sent_at: float | None) -> None:
        self.status.received += 1
        self.metrics.received.labels(self.kind, what).inc()
        if sent_at is not None:
            lag = max(0.0, self.clock() - sent_at)
            self.status.lag_s = round(lag, 3)
            self.metrics.lag.labels(self.kind).observe(lag)

    def _allow_activity(self) -> bool:
        """Likes, entries and shares come in floods: at most ``activity_per_s`` reach the bus."""
        second, count = self._window
        now = int(self.clock())
        if now != second:
            second, count = now, 0
        self._window = (second, count + 1)
        return count < self.activity_per_s
