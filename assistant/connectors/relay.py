"""The relay for platforms without a usable API: capture tools post what they see, it is queued."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from assistant.connectors.base import (
    ActivityKind,
    ConnectorKind,
    PlatformActivity,
    PlatformMessage,
    PlatformUser,
    Sink,
)
from assistant.connectors.specs import RelaySpec
from assistant.errors import BadMessage, TooLarge

MAX_ITEMS = 500  # per payload; the endpoints also bound its bytes
QUEUE_SIZE = 1000
MS_THRESHOLD = 1e11  # a ``ts`` above this is in milliseconds (1e11 s is the year 5138)

Item = PlatformMessage | PlatformActivity


class RelayBatchTooLarge(TooLarge):
    """A payload with more than ``MAX_ITEMS`` items: the whole payload is refused."""


class _Lenient(BaseModel):
    # capture tools add fields of their own and send numeric ids
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class RelayUser(_Lenient):
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=256)


class RelayChat(_Lenient):
    """``{"type": "chat", "id", "user": {"id", "name"}, "text", "ts"?}``"""

    type: Literal["chat"]
    id: str = Field(min_length=1, max_length=128)
    user: RelayUser
    text: str = Field(max_length=4000)
    ts: float | None = None  # unix seconds (milliseconds are recognised and converted)


class RelayActivity(_Lenient):
    """``{"type": "gift"|"like"|"follow"|"share"|"enter"|"purchase", "id", "user", "count"?,
    "item"?, "sku"?, "value"?, "ts"?}``"""

    type: Literal["gift", "like", "follow", "share", "enter", "purchase"]
    id: str = Field(min_length=1, max_length=128)
    user: RelayUser
    count: int = Field(default=1, ge=1, le=1_000_000)
    item: str = Field(default="", max_length=256)
    sku: str | None = Field(default=None, max_length=64)
    value: float | None = Field(default=None, ge=0)
    ts: float | None = None


RelayItem = Annotated[RelayChat | RelayActivity, Field(discriminator="type")]
_ITEM: TypeAdapter[RelayChat | RelayActivity] = TypeAdapter(RelayItem)


class _DouyinUser(_Lenient):
    Id: str = Field(min_length=1, max_length=128)
    Nickname: str = Field(default="", max_length=256)


class _DouyinData(_Lenient):
    MsgId: str | None = Field(default=None, max_length=128)
    User: _DouyinUser
    Content: str = Field(default="", max_length=4000)
    Count: int = 0  # likes
    GiftName: str = Field(default="", max_length=256)
    GiftCount: int = 0
    GroupCount: int | None = None
    DiamondCount: int = Field(default=0, ge=0)


class _DouyinPack(BaseModel):
    Type: int
    Data: str | dict[str, Any]


# DouyinBarrageGrab's PackMsgType: 1 chat, then these; 6 (room statistics), 7 (fan club) and
# 9 (stream ended) are no viewer's action and are skipped.
_DOUYIN_CHAT = 1
_DOUYIN_ACTIVITIES: dict[int, ActivityKind] = {
    2: "like",
    3: "enter",
    4: "follow",
    5: "gift",
    8: "share",
}
_DOUYIN_SKIPPED = frozenset({6, 7, 9})


@dataclass
class RelayBatch:
    """What one payload held: usable items in order, one line per item that failed, and how many
    items were skipped on purpose (statistics and other messages that are no viewer's doing)."""

    items: list[Item] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: int = 0


def _seconds(ts: float | None) -> float | None:
    if ts is None:
        return None
    return ts / 1000 if ts > MS_THRESHOLD else ts


def _normalised(entry: dict[str, Any]) -> Item:
    parsed = _ITEM.validate_python(entry)
    user = PlatformUser(id=parsed.user.id, name=parsed.user.name)
    if isinstance(parsed, RelayChat):
        return PlatformMessage(
            id=parsed.id, user=user, text=parsed.text, sent_at=_seconds(parsed.ts)
        )
    return PlatformActivity(
        id=parsed.id,
        user=user,
        kind=parsed.type,
        count=parsed.count,
        item=parsed.item,
        sku=parsed.sku,
        value=parsed.value,
        sent_at=_seconds(parsed.ts),
    )


def _douyin(entry: dict[str, Any]) -> Item | None:
    """One ``{Type, Data}`` pack of DouyinBarrageGrab (github.com/HaoDong108/DouyinBarrageGrab,
    ``BarrageGrab/Modles/JsonEntity/BarrageMessages.cs``): ``Data`` is the message serialised
    as a JSON string (forks send the object itself) with ``MsgId``, ``User{Id, Nickname}``,
    ``Content``; likes add ``Count``, gifts ``GiftName``, ``GiftCount`` (this time's count),
    ``RepeatCount`` (the combo's running total) and ``DiamondCount`` (the price in Douyin coins).
    Builds before ``MsgId`` existed sent no id and named this time's gift count ``GroupCount``.
    None for a pack that is skipped on purpose."""
    pack = _DouyinPack.model_validate(entry)
    if pack.Type in _DOUYIN_SKIPPED:
        return None
    kind = _DOUYIN_ACTIVITIES.get(pack.Type)
    if kind is None and pack.Type != _DOUYIN_CHAT:
        raise ValueError(f"unknown Douyin Type {pack.Type}")
    raw = json.loads(pack.Data) if isinstance(pack.Data, str) else pack.Data
    if not isinstance(raw, dict):
        raise ValueError("Douyin Data is not an object")
    data = _DouyinData.model_validate(raw)
    # without a MsgId a fresh id keeps the item (a re-post of it is then not recognised)
    item_id = data.MsgId if data.MsgId and data.MsgId != "0" else f"relay-{uuid.uuid4().hex}"
    user = PlatformUser(id=data.User.Id, name=data.User.Nickname)
    if kind is None:
        return PlatformMessage(id=item_id, user=user, text=data.Content)
    if kind == "like":
        return PlatformActivity(id=item_id, user=user, kind="like", count=max(1, data.Count))
    if kind == "gift":
        count = max(1, data.GroupCount if data.GroupCount is not None else data.GiftCount)
        return PlatformActivity(
            id=item_id,
            user=user,
            kind="gift",
            count=count,
            item=data.GiftName,
            value=float(data.DiamondCount * count),
        )
    return PlatformActivity(id=item_id, user=user, kind=kind)


def parse_relay(payload: bytes) -> RelayBatch:
    """A capture tool's payload (one JSON object or an array of them, each in the normalised
    format or Douyin's ``{Type, Data}``) as platform items; an item that fails is reported in
    ``errors`` and skipped. Raises ``BadMessage`` when the payload is not JSON of that shape and
    ``RelayBatchTooLarge`` beyond ``MAX_ITEMS`` items."""
    try:
        decoded = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise BadMessage(f"relay payload is not JSON: {exc}") from exc
    if not isinstance(decoded, list | dict):
        raise BadMessage("a relay payload is a JSON object or an array of them")
    entries = decoded if isinstance(decoded, list) else [decoded]
    if len(entries) > MAX_ITEMS:
        raise RelayBatchTooLarge(f"{len(entries)} items in one relay payload (at most {MAX_ITEMS})")
    batch = RelayBatch()
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ValueError("not a JSON object")
            item = _douyin(entry) if "Type" in entry else _normalised(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(part) for part in first["loc"])
            batch.errors.append(f"item {index}: {loc + ': ' if loc else ''}{first['msg']}"[:300])
            continue
        except (ValueError, RecursionError) as exc:
            batch.errors.append(f"item {index}: {exc}"[:300])
            continue
        if item is None:
            batch.skipped += 1
        else:
            batch.items.append(item)
    return batch


class RelayConnector:
    """Hands the room what capture tools post: ``feed`` queues without waiting (the HTTP and
    WebSocket endpoints call it), ``run`` delivers in order; what is queued while no run is
    going (between reconnects) waits for the next one."""

    kind: ConnectorKind = "relay"

    def __init__(self, spec: RelaySpec) -> None:
        self.spec = spec
        self._queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._sink: Sink | None = None

    def feed(self, batch: RelayBatch) -> int:
        """Queue the batch's items; return how many were queued. Items beyond the queue's room
        are refused, each reported to the running sink as dropped (``queue_full``)."""
        queued = 0
        for item in batch.items:
            try:
                self._queue.put_nowait(item)
            except asyncio.QueueFull:
                if self._sink is not None:
                    self._sink.dropped("queue_full")
                continue
            queued += 1
        return queued

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        sink.connected(f"relay for {self.spec.platform}")
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, PlatformMessage):
                    await sink.chat(item)
                else:
                    await sink.activity(item)
        finally:
            self._sink = None
