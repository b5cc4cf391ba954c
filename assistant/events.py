"""Typed events: every message on the room bus, the WebSocket and Redis is one of these."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, model_validator

from assistant.catalog import Catalog, Product, ShopInfo
from assistant.understand.types import Intent, Understanding

Role = Literal["host", "viewer", "anchor"]
ALL_ROLES: frozenset[Role] = frozenset({"host", "viewer", "anchor"})
HOST: frozenset[Role] = frozenset({"host"})


def new_id() -> str:
    return uuid.uuid4().hex


class EventBase(BaseModel):
    """Fields every event carries; the server stamps room_id, id and ts on client input."""

    model_config = ConfigDict(extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    room_id: str = ""
    id: str = Field(default_factory=new_id)
    ts: float = Field(default_factory=time.time)

    # Who may send it from a client, who receives it over the WS, and whether the bus may
    # drop an older copy for a newer one (latest wins) instead of applying backpressure.
    senders: ClassVar[frozenset[Role]] = frozenset()
    audience: ClassVar[frozenset[Role]] = frozenset()
    lossy: ClassVar[bool] = False
    # Not worth sending this long after it was made (speech is paced in real time): a bus
    # coming back from an outage drops it from its outbox instead of playing it late.
    stale_after_s: ClassVar[float | None] = None
    _wire: str | None = PrivateAttr(default=None)
    _frame: bytes | None = PrivateAttr(default=None)

    def wire(self) -> str:
        """The event as JSON, serialised once however many clients receive it."""
        if self._wire is None:
            self._wire = self.model_dump_json()
        return self._wire

    def frame(self, encode: Callable[[bytes], bytes]) -> bytes:
        """The event as one WebSocket frame (``encode`` frames a payload), built once."""
        if self._frame is None:
            self._frame = encode(self.wire().encode())
        return self._frame

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        copied._wire = None
        copied._frame = None
        return copied

    def visible_to(self, role: Role, user_id: str | None) -> bool:
        target: str | None = getattr(self, "target_user", None)
        if target is not None and role != "host":
            return target == user_id
        return role in self.audience


class User(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)


# --- client -> server -------------------------------------------------------------------------


class Chat(EventBase):
    """A chat line; the server sets ``role`` from the sender's token, never from the client."""

    type: Literal["chat"] = "chat"
    user: User
    text: str = Field(min_length=1, max_length=500)
    role: Role = "viewer"
    senders = ALL_ROLES
    audience = ALL_ROLES


class ScriptRequest(EventBase):
    """A new script, or an edit of the script ``base``: one section rewritten, or shortened."""

    type: Literal["script.request"] = "script.request"
    sku: str | None = None
    style: Literal["energetic", "gentle", "professional"] = "energetic"
    seconds: int = Field(default=60, ge=10, le=600)
    language: Literal["zh", "en"] | None = None
    action: Literal["write", "regenerate", "shorten"] = "write"
    base: str | None = Field(default=None, max_length=64)
    section: int | None = Field(default=None, ge=0, le=30)
    senders = HOST

    @model_validator(mode="after")
    def _edit_names_its_script(self) -> Self:
        if self.action != "write" and (self.base is None or self.sku is None):
            raise ValueError(f"{self.action} needs the script's sku and base request id")
        if self.action == "regenerate" and self.section is None:
            raise ValueError("regenerate needs the section index")
        return self


class ScriptApprove(EventBase):
    """The host approves a script (or withdraws it): the anchor speaks approved ones verbatim."""

    type: Literal["script.approve"] = "script.approve"
    request_id: str = Field(min_length=1, max_length=64)
    approved: bool = True
    senders = HOST


class StageSet(EventBase):
    """The host pins the product on stage (or unpins with ``sku: null``); it overrides vision."""

    type: Literal["stage.set"] = "stage.set"
    sku: str | None
    senders = HOST
    audience = HOST


class Engagement(EventBase):
    """A viewer looked at, clicked, carted or bought a product; it feeds recommendations."""

    type: Literal["engagement"] = "engagement"
    user: User
    sku: str = Field(min_length=1, max_length=64)
    action: Literal["view", "click", "cart", "purchase"] = "click"
    senders = frozenset({"viewer"})


class Activity(EventBase):
    """A gift, like, follow, share, purchase or entry read from a connected platform's room."""

    type: Literal["platform.activity"] = "platform.activity"
    platform: str = Field(min_length=1, max_length=24)
    user: User
    kind: Literal["gift", "like", "follow", "share", "purchase", "enter"]
    count: int = Field(default=1, ge=1)
    item: str = Field(default="", max_length=256)
    value: float | None = None
    audience = HOST


class ScheduleItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str
    weight: float = Field(default=1.0, gt=0, le=100)
    pinned: bool = False


class ScheduleSet(EventBase):
    """The host edits a virtual-anchor room's playlist live."""

    type: Literal["schedule.set"] = "schedule.set"
    items: list[ScheduleItem] = Field(max_length=1000)
    senders = HOST
    audience = HOST


class HostSay(EventBase):
    """An urgent line the host wants the virtual anchor to speak next."""

    type: Literal["host.say"] = "host.say"
    text: str = Field(min_length=1, max_length=1000)
    senders = HOST


# --- server-internal and server -> client -----------------------------------------------------


class Frame(EventBase):
    """A JPEG or PNG frame from the host's stream; only the newest one matters."""

    type: Literal["frame"] = "frame"
    data: bytes
    lossy = True


class CatalogUpdated(EventBase):
    type: Literal["catalog.updated"] = "catalog.updated"
    products: list[Product]
    shop: ShopInfo = Field(default_factory=ShopInfo)

    @property
    def catalog(self) -> Catalog:
        return Catalog(products=self.products, shop=self.shop)


class ChatAccepted(EventBase):
    type: Literal["chat.accepted"] = "chat.accepted"
    chat_id: str
    status: Literal["queued", "answered", "skipped"]
    reason: str | None = None
    dup_of: str | None = None
    target_user: str | None = None
    audience = HOST


class ChatTriaged(EventBase):
    """Triage output: an accepted question, understood and ranked, waiting for an answerer."""

    type: Literal["chat.triaged"] = "chat.triaged"
    chat: Chat
    understanding: Understanding
    audience = HOST

    @property
    def intent(self) -> Intent:
        return self.understanding.intent

    @property
    def priority(self) -> float:
        return self.understanding.priority


class ChatSkipped(EventBase):
    type: Literal["chat.skipped"] = "chat.skipped"
    chat_id: str
    reason: str
    audience = HOST


AnswerSource = Literal["facts", "shop", "llm", "template", "clarify", "unknown"]


class AnswerDelta(EventBase):
    type: Literal["answer.delta"] = "answer.delta"
    chat_id: str
    delta: str
    audience = ALL_ROLES


class Answer(EventBase):
    type: Literal["answer"] = "answer"
    chat_id: str
    text: str
    question: str | None = None
    user_ids: list[str] = Field(default_factory=list)
    sku: str | None = None
    source: AnswerSource = "facts"
    flagged: bool = False
    audience = ALL_ROLES


class ScriptDelta(EventBase):
    """One checked sentence of a script, as soon as it is written (``section``: its plan part)."""

    type: Literal["script.delta"] = "script.delta"
    request_id: str
    sku: str | None
    delta: str
    section: int | None = None
    audience = HOST


SectionKind = Literal["hook", "point", "proof", "price", "cta"]


class ScriptSection(BaseModel):
    """One part of a script's plan as written: hook, point, proof, price or cta."""

    index: int
    kind: SectionKind
    text: str


class Script(EventBase):
    type: Literal["script"] = "script"
    request_id: str
    sku: str | None
    text: str
    style: str
    fallback: bool = False
    sections: list[ScriptSection] = Field(default_factory=list)
    base: str | None = None
    audience = HOST


class ScriptApproved(EventBase):
    """A script the anchor now speaks verbatim in rotation (or no longer, ``approved: false``)."""

    type: Literal["script.approved"] = "script.approved"
    request_id: str
    sku: str | None
    approved: bool
    audience = HOST


StageSource = Literal["pin", "anchor", "vision", "none"]


class StageChanged(EventBase):
    """The product on stage, from its one owner: host pin > the anchor's product > vision."""

    type: Literal["stage"] = "stage"
    sku: str | None
    source: StageSource
    audience = HOST


class Detection(BaseModel):
    box: tuple[float, float, float, float]
    score: float
    class_name: str


class StageInfo(BaseModel):
    sku: str | None
    confidence: float
    pinned: bool = False


class PriceMismatch(BaseModel):
    sku: str
    screen_price: float
    catalog_price: float


class VisionUpdate(EventBase):
    type: Literal["vision.update"] = "vision.update"
    frame_id: str
    width: int
    height: int
    detections: list[Detection] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    ocr_lines: list[str] = Field(default_factory=list)
    stage: StageInfo
    new_product: bool = False
    price_mismatch: PriceMismatch | None = None
    latency_ms: float = 0.0
    audience = HOST


class RecommendedItem(BaseModel):
    sku: str
    title: str
    price: float
    score: float
    reason: str


class Recommendation(EventBase):
    type: Literal["recommendation"] = "recommendation"
    target_user: str
    query: str
    chat_id: str | None = None
    items: list[RecommendedItem]
    audience = HOST


class AudioChunk(EventBase):
    """Synthesized PCM16 mono audio; on the WS a JSON header precedes the binary payload."""

    type: Literal["audio.chunk"] = "audio.chunk"
    seq: int
    utterance_id: str
    text: str
    sample_rate: int
    data: bytes
    # How far ahead of now the room's playout clock places this chunk: a player that joins
    # mid-stream starts this late, so it keeps the anchor's buffer instead of running dry.
    lead_s: float = Field(default=0.0, ge=0)
    stale_after_s = 2.0
    audience = frozenset({"anchor"})


class Subtitle(EventBase):
    type: Literal["subtitle"] = "subtitle"
    utterance_id: str
    text: str
    kind: Literal["script", "answer", "host", "filler"] = "script"
    sku: str | None = None
    stale_after_s = 2.0
    audience = ALL_ROLES


class ProductCard(EventBase):
    """The product now on stage, as overlays show it; sent when the stage product changes."""

    type: Literal["product.card"] = "product.card"
    sku: str
    title: str
    price: float
    list_price: float | None = None
    point: str = ""
    stock: int = 0
    source: Literal["vision", "pin", "anchor"] = "vision"
    audience = ALL_ROLES


class BusGap(EventBase):
    """Entries of the room's stream were trimmed before this instance read them (it fell
    behind, or the bus restarted): events between the two ids are missing here. A console
    re-reads the chat log (``GET /v1/rooms/{id}/chat?since=``); the store has every line."""

    type: Literal["bus.gap"] = "bus.gap"
    missed_after: str
    resumed_at: str
    audience = ALL_ROLES


class Session(EventBase):
    """A viewer's first message: the id the server gave it, and the signed session to pass as
    ``?session=`` on reconnect to keep that id (never published on the bus)."""

    type: Literal["session"] = "session"
    user_id: str
    session: str


class Error(EventBase):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = None
    details: list[dict[str, object]] = Field(default_factory=list)


Event = Annotated[
    Chat
    | ScriptRequest
    | ScriptApprove
    | StageSet
    | Engagement
    | ScheduleSet
    | HostSay
    | Frame
    | CatalogUpdated
    | ChatAccepted
    | ChatTriaged
    | ChatSkipped
    | AnswerDelta
    | Answer
    | ScriptDelta
    | Script
    | ScriptApproved
    | VisionUpdate
    | Recommendation
    | AudioChunk
    | Subtitle
    | Activity
    | ProductCard
    | StageChanged
    | BusGap
    | Session
    | Error,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_CLASSES: tuple[type[EventBase], ...] = get_args(get_args(Event)[0])


def types_for(role: Role) -> frozenset[str]:
    """Event types a role may receive over the WebSocket."""
    return frozenset(
        cls.model_fields["type"].default
        for cls in EVENT_CLASSES
        if role in cls.audience or "target_user" in cls.model_fields
    )


def parse_event(raw: str | bytes) -> Event:
    """Parse one JSON event; raises pydantic.ValidationError on anything malformed."""
    return EVENT_ADAPTER.validate_json(raw)


def dump_event(event: Event) -> bytes:
    return EVENT_ADAPTER.dump_json(event)
