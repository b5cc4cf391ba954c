"""Bilibili commands (open platform and web room JSON) as platform messages and activities."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.connectors.base import (
    ActivityKind,
    PlatformActivity,
    PlatformMessage,
    PlatformUser,
    SourceEnded,
)
from assistant.errors import BadMessage

Event = PlatformMessage | PlatformActivity
# Activity values are in yuan (CNY); gift and guard prices come in milli-yuan (gold seeds):
# 1000 = 1 CNY = 10 batteries.
MILLI = 1000
GUARD_NAMES = {1: "总督", 2: "提督", 3: "舰长"}
# INTERACT_WORD's msg_type: 1 entered, 2 followed, 3 shared, 4 special follow, 5 mutual follow
INTERACT_KINDS: dict[int, ActivityKind] = {
    1: "enter",
    2: "follow",
    3: "share",
    4: "follow",
    5: "follow",
}


class MalformedCommand(BadMessage):
    """A command this connector knows whose fields are missing or wrong: dropped, not fatal."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _OpenUser(_Wire):
    open_id: str = ""
    uid: int = 0  # retired by the platform (always 0 now); older apps still get it
    uname: str = ""

    def user(self) -> PlatformUser:
        ident = self.open_id or (str(self.uid) if self.uid else "")
        if not ident:
            raise MalformedCommand("neither open_id nor uid")
        return PlatformUser(id=ident, name=self.uname)


class _OpenDm(_OpenUser):
    msg: str
    msg_id: str = Field(min_length=1)
    timestamp: float = 0


class _OpenGift(_OpenUser):
    gift_name: str
    gift_num: int = Field(ge=1)
    price: int = Field(default=0, ge=0)
    paid: bool = False
    msg_id: str = Field(min_length=1)
    timestamp: float = 0


class _OpenLike(_OpenUser):
    like_count: int = Field(default=1, ge=1)
    msg_id: str = Field(min_length=1)
    timestamp: float = 0


class _OpenSuperChat(_OpenUser):
    message: str
    rmb: float = Field(ge=0)
    msg_id: str = Field(min_length=1)
    timestamp: float = 0


class _OpenGuard(_Wire):
    user_info: _OpenUser
    guard_level: int
    guard_num: int = Field(default=1, ge=1)
    price: int = Field(default=0, ge=0)
    msg_id: str = Field(min_length=1)
    timestamp: float = 0


class _OpenEnter(_OpenUser):
    timestamp: float = 0


class _OpenEnd(_Wire):
    game_id: str = ""


class _WebUser(_Wire):
    uid: int = 0
    uname: str = ""


class _WebGift(_WebUser):
    gift_name: str = Field(alias="giftName")
    num: int = Field(ge=1)
    price: int = Field(default=0, ge=0)
    coin_type: str = "gold"
    tid: str = ""
    timestamp: float = 0


class _WebSuperChatUser(_Wire):
    uname: str = ""


class _WebSuperChat(_WebUser):
    id: int | str
    message: str
    price: float = Field(ge=0)
    user_info: _WebSuperChatUser = _WebSuperChatUser()
    start_time: float = 0


class _WebInteract(_WebUser):
    msg_type: int
    timestamp: float = 0
    trigger_time: int = 0  # nanoseconds; finer than timestamp, so a better dedupe key


M = TypeVar("M", bound=_Wire)


def parse(command: object, *, game_id: str = "") -> list[Event]:
    """What one command means for the room: ``[]`` for commands not used here. Raises
    ``MalformedCommand`` for a known one that does not fit, ``SourceEnded`` when the open
    platform ends ``game_id`` (or a game it does not name)."""
    if not isinstance(command, dict) or not isinstance(command.get("cmd"), str):
        raise MalformedCommand("not a command object")
    name = command["cmd"].partition(":")[0]  # old web servers append options: DANMU_MSG:4:0:2
    handler = _HANDLERS.get(name)
    if handler is None and name != "LIVE_OPEN_PLATFORM_INTERACTION_END":
        return []
    try:
        if handler is not None:
            return handler(command)
        ended = _data(command, _OpenEnd)
    except ValidationError as exc:
        raise MalformedCommand(f"{name}: {_fields(exc)}") from exc
    except (MalformedCommand, ValueError, LookupError, TypeError) as exc:
        raise MalformedCommand(f"{name}: {exc}") from exc
    # An end for another game is a late notice about an earlier session, not this one.
    if ended.game_id and ended.game_id != game_id:
        return []
    raise SourceEnded(f"the open platform ended game {ended.game_id or game_id}")


def _fields(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors())


def _data(command: dict[str, Any], model: type[M]) -> M:
    return model.model_validate(command.get("data"))


def _at(timestamp: float) -> float | None:
    return timestamp if timestamp > 0 else None


def _digest(*parts: object) -> str:
    """A stable id for a command the platform sends without one, so a replay dedupes."""
    return hashlib.sha1("\x1f".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _open_dm(command: dict[str, Any]) -> list[Event]:
    dm = _data(command, _OpenDm)
    return [PlatformMessage(id=dm.msg_id, user=dm.user(), text=dm.msg, sent_at=_at(dm.timestamp))]


def _gift(ident: str, user: PlatformUser, item: str, count: int, yuan: float, at: float) -> Event:
    return PlatformActivity(
        id=ident, user=user, kind="gift", count=count, item=item, value=yuan, sent_at=_at(at)
    )


def _open_gift(command: dict[str, Any]) -> list[Event]:
    gift = _data(command, _OpenGift)
    value = gift.price * gift.gift_num / MILLI if gift.paid else 0.0
    return [_gift(gift.msg_id, gift.user(), gift.gift_name, gift.gift_num, value, gift.timestamp)]


def _open_like(command: dict[str, Any]) -> list[Event]:
    like = _data(command, _OpenLike)
    user, sent_at = like.user(), _at(like.timestamp)
    return [
        PlatformActivity(
            id=like.msg_id, user=user, kind="like", count=like.like_count, sent_at=sent_at
        )
    ]


def _super_chat(ident: str, user: PlatformUser, text: str, yuan: float, at: float) -> list[Event]:
    """A paid message: read as a chat line (it is usually a question) and counted as a gift."""
    return [
        PlatformMessage(id=ident, user=user, text=text, sent_at=_at(at)),
        _gift(f"{ident}:paid", user, "醒目留言", 1, yuan, at),
    ]


def _open_super_chat(command: dict[str, Any]) -> list[Event]:
    sc = _data(command, _OpenSuperChat)
    return _super_chat(sc.msg_id, sc.user(), sc.message, sc.rmb, sc.timestamp)


def _open_guard(command: dict[str, Any]) -> list[Event]:
    guard = _data(command, _OpenGuard)
    item = GUARD_NAMES.get(guard.guard_level, f"guard {guard.guard_level}")
    value = guard.price * guard.guard_num / MILLI
    return [
        _gift(guard.msg_id, guard.user_info.user(), item, guard.guard_num, value, guard.timestamp)
    ]


def _open_enter(command: dict[str, Any]) -> list[Event]:
    enter = _data(command, _OpenEnter)
    user = enter.user()
    # The platform gives entries no msg_id.
    ident = f"enter:{_digest(user.id, enter.timestamp)}"
    return [PlatformActivity(id=ident, user=user, kind="enter", sent_at=_at(enter.timestamp))]


def _web_user(uid: int, uname: str, uid_hash: str = "") -> PlatformUser:
    """Signed-out web viewers see uid 0 for all; the sender's uid hash still tells them apart."""
    if uid:
        return PlatformUser(id=str(uid), name=uname)
    if uid_hash:
        return PlatformUser(id=f"crc:{uid_hash}", name=uname)
    raise MalformedCommand("no uid")


def _web_danmaku(command: dict[str, Any]) -> list[Event]:
    info = command["info"]
    meta, text, sender = info[0], info[1], info[2]
    if not isinstance(text, str) or not isinstance(sender[1], str):
        raise MalformedCommand("info[1] or info[2][1] is not text")
    sent_ms = int(meta[4])
    uid_hash = meta[7] if len(meta) > 7 and isinstance(meta[7], str) else ""
    user = _web_user(int(sender[0]), sender[1], uid_hash)
    check = info[9].get("ct") if len(info) > 9 and isinstance(info[9], dict) else None
    ident = f"dm:{sent_ms}:{check}" if check else f"dm:{_digest(user.id, sent_ms, text)}"
    return [PlatformMessage(id=ident, user=user, text=text, sent_at=_at(sent_ms / 1000))]


def _web_gift(command: dict[str, Any]) -> list[Event]:
    gift = _data(command, _WebGift)
    user = _web_user(gift.uid, gift.uname)
    value = gift.price * gift.num / MILLI if gift.coin_type == "gold" else 0.0  # silver is free
    ident = gift.tid or _digest(user.id, gift.gift_name, gift.num, gift.timestamp)
    return [_gift(f"gift:{ident}", user, gift.gift_name, gift.num, value, gift.timestamp)]


def _web_like(command: dict[str, Any]) -> list[Event]:
    like = _data(command, _WebUser)
    # A click carries no id nor time: each one received counts once.
    ident = f"like:{uuid.uuid4().hex}"
    return [PlatformActivity(id=ident, user=_web_user(like.uid, like.uname), kind="like")]


def _web_interact(command: dict[str, Any]) -> list[Event]:
    word = _data(command, _WebInteract)
    kind = INTERACT_KINDS.get(word.msg_type)
    if kind is None:
        return []
    user, when = _web_user(word.uid, word.uname), word.trigger_time or word.timestamp
    ident = f"{kind}:{_digest(user.id, word.msg_type, when)}"
    return [PlatformActivity(id=ident, user=user, kind=kind, sent_at=_at(word.timestamp))]


def _web_super_chat(command: dict[str, Any]) -> list[Event]:
    sc = _data(command, _WebSuperChat)
    user = _web_user(sc.uid, sc.user_info.uname or sc.uname)
    return _super_chat(f"sc:{sc.id}", user, sc.message, sc.price, sc.start_time)


_HANDLERS: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
    "LIVE_OPEN_PLATFORM_DM": _open_dm,
    "LIVE_OPEN_PLATFORM_SEND_GIFT": _open_gift,
    "LIVE_OPEN_PLATFORM_LIKE": _open_like,
    "LIVE_OPEN_PLATFORM_SUPER_CHAT": _open_super_chat,
    "LIVE_OPEN_PLATFORM_GUARD": _open_guard,
    "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER": _open_enter,
    "DANMU_MSG": _web_danmaku,
    "SEND_GIFT": _web_gift,
    "LIKE_INFO_V3_CLICK": _web_like,
    "INTERACT_WORD": _web_interact,
    "SUPER_CHAT_MESSAGE": _web_super_chat,
}
