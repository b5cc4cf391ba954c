"""What a platform connector is: its protocol, the messages it hands over, its status and errors."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from assistant.errors import AssistantError

ConnectorKind = Literal["bilibili", "relay", "twitch", "obs", "stream"]
ConnectorState = Literal["starting", "connected", "reconnecting", "ended", "failed", "stopped"]
ActivityKind = Literal["gift", "like", "follow", "share", "purchase", "enter"]


class ConnectorError(AssistantError):
    """A connector's source failed; ``retryable`` ones are reconnected with backoff."""

    code = "connector_error"
    status = 502

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class SourceEnded(ConnectorError):
    """The source finished on its own (a stream's publisher left, a file ended): not retried."""

    code = "source_ended"

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class PlatformUser(BaseModel):
    """A platform's viewer as the platform names it: untrusted text, mapped to a room viewer."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=256)


class PlatformMessage(BaseModel):
    """One chat line read from a platform; ``id`` is the platform's, kept for dedupe."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    user: PlatformUser
    text: str = Field(max_length=4000)
    sent_at: float | None = None  # the platform's send time (unix s), for the lag metric


class PlatformActivity(BaseModel):
    """A gift, like, follow, share, purchase or entry read from a platform."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    user: PlatformUser
    kind: ActivityKind
    count: int = Field(default=1, ge=1, le=1_000_000)
    item: str = Field(default="", max_length=256)  # the gift's or product's name
    sku: str | None = Field(default=None, max_length=64)
    value: float | None = Field(default=None, ge=0)  # in the platform's currency unit
    sent_at: float | None = None


class Sink(Protocol):
    """Where a connector hands what it reads; the room side checks, maps and counts it."""

    async def chat(self, message: PlatformMessage) -> None: ...

    async def activity(self, activity: PlatformActivity) -> None: ...

    async def frame(self, data: bytes) -> None: ...

    def connected(self, detail: str = "") -> None:
        """The source is up (after a start or a reconnect)."""

    def dropped(self, reason: str) -> None:
        """Something read from the source could not be used (malformed, unknown command)."""


@runtime_checkable
class Connector(Protocol):
    """A source for one room: ``run`` reads until the source ends (return or ``SourceEnded``)
    or fails (``ConnectorError``, reconnected with backoff when retryable); it is cancelled
    to stop. It must not hold state across runs that a reconnect would need fresh."""

    kind: ConnectorKind

    async def run(self, sink: Sink) -> None: ...


@runtime_checkable
class Replier(Protocol):
    """A connector that can post the bot's answers back to the platform's chat."""

    async def reply(self, text: str, to: PlatformMessage | None) -> bool:
        """Post ``text`` (in reply to ``to``); False when it was dropped (rate limit, refusal)."""


class ConnectorStatus(BaseModel):
    """What the console and health show for one connector of a room."""

    id: str
    kind: ConnectorKind
    state: ConnectorState
    detail: str = ""
    received: int = 0
    dropped: int = 0
    reconnects: int = 0
    replies: int = 0
    lag_s: float | None = None
    last_error: str | None = None
    since: float
