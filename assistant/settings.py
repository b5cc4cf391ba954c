"""One pydantic-settings root (env prefix LCA_, nested delimiter __) with a model per package."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.brain.llm.settings import AnswerSettings, LLMSettings, ScriptSettings
from assistant.compliance.settings import ComplianceSettings
from assistant.connectors.specs import ConnectorSettings
from assistant.understand.settings import UnderstandSettings
from avatar.settings import AvatarSettings
from recommend.settings import RecommendSettings
from vision.settings import VisionSettings


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: SecretStr = SecretStr("change-me-admin")
    demo_catalog: Path | None = Path("data/demo_catalog.json")
    # Signs viewer sessions; empty: derived from admin_token (shared by every instance).
    session_secret: SecretStr | None = None
    # Slow or idle clients: a request's headers must arrive within header_timeout_s.
    header_timeout_s: float = Field(default=10.0, gt=0)
    keep_alive_s: int = Field(default=5, ge=1)
    max_connections: int = Field(default=8000, ge=16)
    # Bodies are capped while they stream in, after the caller is authenticated.
    max_catalog_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)


class LimitSettings(BaseModel):
    """Limits by source, not by what a client claims; strings in the limits library's notation."""

    # redis: counted across every instance on the same Redis (``redis_url``, else the bus's).
    storage: Literal["memory", "redis"] = "memory"
    redis_url: str | None = None
    # Every message a viewer sends (chat, engagement, anything else), counted three ways.
    viewer_per_connection: str = "30/minute;5/second"
    viewer_per_address: str = "120/minute;10/second"
    viewer_per_room: str = "1200/minute;60/second"
    # A viewer refused this many times in a row is disconnected (close 1008).
    refusals_before_close: int = Field(default=10, ge=1)
    # New WebSocket connections, and connections held at once (these two per instance).
    connects_per_address: str = "30/minute"
    connections_per_address: int = Field(default=32, ge=1)
    connections_per_room: int = Field(default=5000, ge=1)
    vision_per_token: str = "120/minute;4/second"


class BusSettings(BaseModel):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "lca"
    redis_maxlen: int = Field(default=10_000, ge=100)
    queue_size: int = Field(default=1024, ge=8)
    slow_consumer_timeout: float = Field(default=5.0, gt=0)
    # Lossless events kept, in order, while the backend is unreachable.
    outbox_size: int = Field(default=10_000, ge=16)
    # A Redis that does not answer within this is down (a publish goes to the outbox).
    redis_timeout_s: float = Field(default=2.0, gt=0)
    redis_connect_timeout_s: float = Field(default=2.0, gt=0)
    # An idle connection is checked with a PING before use after this many seconds (0: never).
    redis_health_check_s: float = Field(default=15.0, ge=0)
    # A command whose connection broke (Redis restarted) is sent again on a new one this many
    # times, after an exponential backoff with jitter of at most redis_retry_cap_s; a timeout
    # is never retried, so a frozen Redis costs one redis_timeout_s per call.
    redis_retries: int = Field(default=1, ge=0)
    redis_retry_cap_s: float = Field(default=0.5, gt=0)
    # The read loops' backoff while Redis is down: 0.1 s, doubling up to this, with jitter.
    redis_backoff_max_s: float = Field(default=2.0, gt=0)
    # How often the fan-out reader asks whether Redis restarted (and lost its streams).
    redis_check_every_s: float = Field(default=1.0, gt=0)
    # Group entries read by a consumer and not acknowledged for this long are taken over.
    redis_claim_idle_s: float = Field(default=15.0, gt=0)
    redis_claim_every_s: float = Field(default=5.0, gt=0)


class StoreSettings(BaseModel):
    # sqlite: one file on one machine; postgres: one database for instances on several.
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: Path = Path("var/lca.sqlite3")
    dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    # A PostgreSQL schema of the service's own (created if missing); None: the DSN's default.
    schema_name: str | None = None
    pool_size: int = Field(default=8, ge=1)


class WsSettings(BaseModel):
    max_text_bytes: int = Field(default=16 * 1024, ge=256)
    max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # A socket's events waiting to be sent: past either bound, for longer than the bus's
    # slow_consumer_timeout or past twice the bound, the client is closed with 1013.
    send_queue: int = Field(default=512, ge=8)
    send_buffer_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    # The kernel send buffer of each WebSocket (fixed instead of autotuned up to 4 MiB).
    socket_send_buffer: int = Field(default=256 * 1024, ge=16 * 1024)
    batch_max: int = Field(default=64, ge=1)
    pipeline: int = Field(default=32, ge=1)

    @property
    def protocol_limit(self) -> int:
        """A host's or anchor's messages up to twice the frame limit get a typed ``too_large``
        error; beyond, the server closes the socket with 1009 before buffering more."""
        return 2 * self.max_frame_bytes

    @property
    def viewer_protocol_limit(self) -> int:
        """The same for a viewer, who sends only small text messages."""
        return 2 * self.max_text_bytes


class TriageSettings(BaseModel):
    rate_per_minute: int = Field(default=12, ge=1)
    burst: int = Field(default=4, ge=1)
    dedupe_window_s: float = Field(default=30.0, ge=0)
    dedupe_similarity: float = Field(default=0.8, gt=0, le=1)
    dedupe_recent: int = Field(default=64, ge=1)
    backlog_size: int = Field(default=200, ge=1)
    # An instance holds the questions it queued for this long, renewed every third of it;
    # another instance on the same store takes over the ones whose holder died.
    lease_s: float = Field(default=15.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LCA_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    server: ServerSettings = ServerSettings()
    bus: BusSettings = BusSettings()
    store: StoreSettings = StoreSettings()
    ws: WsSettings = WsSettings()
    limits: LimitSettings = LimitSettings()
    triage: TriageSettings = TriageSettings()
    understand: UnderstandSettings = UnderstandSettings()
    llm: LLMSettings = LLMSettings()
    answers: AnswerSettings = AnswerSettings()
    scripts: ScriptSettings = ScriptSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    connectors: ConnectorSettings = ConnectorSettings()
    model_dir: Path = Path("~/.cache/live-commerce").expanduser()
    capabilities: list[str] = Field(
        default_factory=lambda: ["vision", "recommend", "brain", "avatar"]
    )
    vision: VisionSettings = VisionSettings()
    recommend: RecommendSettings = RecommendSettings()
    avatar: AvatarSettings = AvatarSettings()
