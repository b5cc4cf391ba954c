"""The Bilibili live socket's packets: a 16-byte big-endian header, a JSON, zlib or brotli body."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

import brotli  # type: ignore[import-untyped,unused-ignore]

from assistant.connectors.base import ConnectorError

HEADER = struct.Struct(">IHHII")  # packet length, header length, protover, operation, sequence
MAX_INFLATED = 8 * 1024 * 1024  # per frame, all compressed bodies together
MAX_NESTING = 3  # the server nests once; more is a malformed or hostile frame


class Op(IntEnum):
    HEARTBEAT = 2
    HEARTBEAT_REPLY = 3
    COMMAND = 5
    AUTH = 7
    AUTH_REPLY = 8


class Proto(IntEnum):
    JSON = 0
    INT = 1  # a heartbeat reply's u32 popularity
    ZLIB = 2
    BROTLI = 3


class PacketError(ConnectorError):
    """A frame that cannot be split or inflated: the frame is dropped, the connection kept."""

    code = "bad_packet"


@dataclass(frozen=True)
class Packet:
    op: int
    body: bytes
    protover: int = Proto.JSON


def pack(op: int, body: bytes = b"", *, protover: int = Proto.JSON, sequence: int = 1) -> bytes:
    """One packet: the header, then ``body`` as it is (compress it first for protover 2 or 3)."""
    return HEADER.pack(HEADER.size + len(body), HEADER.size, protover, op, sequence) + body


def unpack(data: bytes) -> list[Packet]:
    """Every packet in ``data``, compressed batches opened (recursively) and flattened in order."""
    packets: list[Packet] = []
    _split(data, packets, MAX_INFLATED, 0)
    return packets


def _split(data: bytes, out: list[Packet], budget: int, depth: int) -> int:
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER.size:
            raise PacketError(f"truncated header: {len(data) - offset} bytes at {offset}")
        length, header_length, protover, op, _ = HEADER.unpack_from(data, offset)
        if header_length < HEADER.size or length < header_length:
            raise PacketError(f"inconsistent lengths: packet {length}, header {header_length}")
        if offset + length > len(data):
            raise PacketError(
                f"truncated packet: {length} bytes announced, {len(data) - offset} left"
            )
        body = data[offset + header_length : offset + length]
        offset += length
        if op == Op.COMMAND and protover in (Proto.ZLIB, Proto.BROTLI):
            if depth >= MAX_NESTING:
                raise PacketError("compressed bodies nested too deep")
            inner = _inflate(protover, body, budget)
            budget = _split(inner, out, budget - len(inner), depth + 1)
        else:
            out.append(Packet(op, body, protover))
    return budget


def _inflate(protover: int, body: bytes, budget: int) -> bytes:
    """The body decompressed, never more than ``budget`` bytes (a zip bomb stops there)."""
    try:
        if protover == Proto.ZLIB:
            inflater = zlib.decompressobj()
            inner = inflater.decompress(body, budget + 1)
            finished = inflater.eof
        else:
            decompressor = brotli.Decompressor()
            inner = decompressor.process(body, output_buffer_limit=budget + 1)
            finished = decompressor.is_finished()
    except (zlib.error, brotli.error) as exc:
        raise PacketError(f"bad {Proto(protover).name.lower()} body: {exc}") from exc
    if len(inner) > budget:
        raise PacketError(f"decompressed frame over {MAX_INFLATED} bytes")
    if not finished:
        raise PacketError(f"incomplete {Proto(protover).name.lower()} body")
    return inner
