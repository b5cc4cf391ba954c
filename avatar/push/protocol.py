"""What the service and its push worker process say to each other over the worker's pipes."""

from __future__ import annotations

import struct
from typing import Annotated, BinaryIO, Literal

from pydantic import BaseModel, Field, TypeAdapter

from avatar.settings import PushSettings

_SIZES = struct.Struct("<II")


class Start(BaseModel):
    """The first message on the worker's stdin: never on its command line, where the stream
    key would show in the process list."""

    url: str
    settings: PushSettings
    language: str = "zh"


class Audio(BaseModel):
    """A room's audio chunk; ``at`` is when the service received it (``time.monotonic``, one
    clock for every process of the machine), so its place on the timeline does not depend on
    how long it waited in the pipe."""

    kind: Literal["audio"] = "audio"
    at: float
    lead_s: float
    rate: int
    uid: str


class Caption(BaseModel):
    """A subtitle: shown when the first audio of its utterance plays."""

    kind: Literal["caption"] = "caption"
    at: float
    uid: str
    text: str


class Card(BaseModel):
    kind: Literal["card"] = "card"
    title: str
    price: float
    list_price: float | None = None
    point: str = ""
    stock: int = 0


Message = Annotated[Audio | Caption | Card, Field(discriminator="kind")]
MESSAGE = TypeAdapter(Message)


class Report(BaseModel):
    """A line on the worker's stdout, twice a second and on each change; ``ended`` is its last.
    Counters are this worker's own (one connection)."""

    state: Literal["connecting", "live", "ended"]
    bytes_out: int = 0
    audio_s: float = 0.0
    video_frames: int = 0
    frames_skipped: int = 0
    dropped_audio_s: float = 0.0
    cpu_s: float = 0.0
    error: str | None = None
    permanent: bool = False  # retrying cannot help (an unsupported protocol, a bad address)


def pack(message: Start | Audio | Caption | Card, payload: bytes = b"") -> bytes:
    head = message.model_dump_json().encode()
    return _SIZES.pack(len(head), len(payload)) + head + payload


def read_start(stream: BinaryIO) -> Start | None:
    framed = _read_framed(stream)
    return None if framed is None else Start.model_validate_json(framed[0])


def read_message(stream: BinaryIO) -> tuple[Audio | Caption | Card, bytes] | None:
    """The next message and its payload, or None at the end of the stream."""
    framed = _read_framed(stream)
    return None if framed is None else (MESSAGE.validate_json(framed[0]), framed[1])


def _read_framed(stream: BinaryIO) -> tuple[bytes, bytes] | None:
    sizes = _read_exactly(stream, _SIZES.size)
    if sizes is None:
        return None
    head_size, payload_size = _SIZES.unpack(sizes)
    head = _read_exactly(stream, head_size)
    payload = _read_exactly(stream, payload_size)
    return None if head is None or payload is None else (head, payload)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        piece = stream.read(size - len(data))
        if not piece:
            return None
        data += piece
    return bytes(data)
