"""Each connector's settings as a host posts them, and the one place a kind names its class."""

from __future__ import annotations

import importlib
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from assistant.connectors.base import Connector, ConnectorError, ConnectorKind

INSTALL = "pip install -e '.[connectors]'"
TOKEN = r"^[A-Za-z0-9_-]{1,200}$"  # sent in HTTP headers: nothing else may pass


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BilibiliSpec(_Spec):
    """Bilibili live chat: the open platform (app keys and the anchor's 身份码) or a web room."""

    kind: Literal["bilibili"] = "bilibili"
    mode: Literal["open", "web"] = "open"
    app_id: int = 0
    access_key_id: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,200}$")
    access_key_secret: SecretStr = SecretStr("")
    code: str = Field(default="", max_length=128)  # the anchor's identity code (身份码)
    api_base: str = Field(default="https://live-open.biliapi.com", max_length=512)
    room_id: int = 0  # web mode: the live room's number
    web_api_base: str = Field(default="https://api.live.bilibili.com", max_length=512)
    heartbeat_s: float = Field(default=20.0, gt=0, le=60)


class RelaySpec(_Spec):
    """A local endpoint that capture tools post to (normalised JSON or Douyin's {Type, Data})."""

    kind: Literal["relay"] = "relay"
    platform: str = Field(default="relay", pattern=r"^[a-z0-9_-]{1,24}$")
    # what a capture tool sends as its bearer token; one is generated when none is given
    token: SecretStr | None = None


class TwitchSpec(_Spec):
    """Twitch chat over EventSub WebSocket; answers posted back when ``post_answers``."""

    kind: Literal["twitch"] = "twitch"
    client_id: str = Field(pattern=TOKEN)
    access_token: SecretStr
    broadcaster_id: str = Field(pattern=r"^[0-9]{1,32}$")
    bot_user_id: str = Field(pattern=r"^[0-9]{1,32}$")
    eventsub_url: str = Field(default="wss://eventsub.wss.twitch.tv/ws", max_length=512)
    api_base: str = Field(default="https://api.twitch.tv/helix", max_length=512)
    post_answers: bool = False
    reply_interval_s: float = Field(default=3.0, ge=0.5, le=600)

    @field_validator("access_token")
    @classmethod
    def _header_safe(cls, token: SecretStr) -> SecretStr:
        if not re.fullmatch(TOKEN, token.get_secret_value()):
            raise ValueError("a token is 1 to 200 letters, digits, '-' or '_'")
        return token


class ObsSpec(_Spec):
    """Screenshots of the program scene (or one source) from OBS over obs-websocket v5."""

    kind: Literal["obs"] = "obs"
    url: str = Field(default="ws://127.0.0.1:4455", max_length=512)
    password: SecretStr | None = None
    source: str | None = Field(default=None, max_length=256)
    fps: float = Field(default=1.0, gt=0, le=10)
    width: int = Field(default=1280, ge=64, le=3840)


class StreamSpec(_Spec):
    """A stream or file URL (RTMP, HLS, HTTP-FLV, a path) decoded with PyAV, sampled to ``fps``."""

    kind: Literal["stream"] = "stream"
    url: str = Field(min_length=1, max_length=2048)
    fps: float = Field(default=1.0, gt=0, le=10)
    keyframes_only: bool = False
    width: int = Field(default=1280, ge=64, le=3840)
    open_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # wait for the encoder (OBS) to push to ``url`` (FFmpeg's listen mode) instead of pulling
    listen: bool = False


ConnectorSpec = Annotated[
    BilibiliSpec | RelaySpec | TwitchSpec | ObsSpec | StreamSpec, Field(discriminator="kind")
]

BUILDERS: dict[ConnectorKind, str] = {
    "bilibili": "assistant.connectors.bilibili.client:BilibiliConnector",
    "relay": "assistant.connectors.relay:RelayConnector",
    "twitch": "assistant.connectors.twitch:TwitchConnector",
    "obs": "assistant.connectors.obs:ObsConnector",
    "stream": "assistant.connectors.stream:StreamConnector",
}


def build(spec: ConnectorSpec) -> Connector:
    """The connector for ``spec``; its module (and its dependencies) load only when used."""
    module, _, name = BUILDERS[spec.kind].partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        message = f"the {spec.kind} connector needs: {INSTALL} ({exc})"
        raise ConnectorError(message, retryable=False) from exc
    connector: Connector = cls(spec)
    return connector


class ConnectorSettings(BaseModel):
    """``LCA_CONNECTORS__ROOMS``: connectors started with the service, by room id (JSON)."""

    rooms: dict[str, list[ConnectorSpec]] = Field(default_factory=dict)
    max_per_room: int = Field(default=8, ge=1, le=64)
    backoff_first_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    activity_per_s: float = Field(default=20.0, gt=0)
    # A stream connector that reads a file of this machine or listens on a port of it: off
    # unless the operator allows it, as a room host is not the machine's administrator.
    allow_local_sources: bool = False
