"""The Bilibili packet codec on frames built by hand: splitting, zlib and brotli, bad frames."""

from __future__ import annotations

import struct
import zlib

import brotli  # type: ignore[import-untyped,unused-ignore]
import pytest

from assistant.connectors.base import ConnectorError
from assistant.connectors.bilibili.packets import MAX_INFLATED, Packet, PacketError, pack, unpack


def raw(op: int, body: bytes, protover: int = 0, *, length: int | None = None) -> bytes:
    """A packet from the documented layout; ``length`` overrides the announced packet length."""
    announced = 16 + len(body) if length is None else length
    return struct.pack(">IHHII", announced, 16, protover, op, 1) + body


def test_pack_writes_the_documented_header() -> None:
    body = b'{"roomid":1}'
    assert pack(7, body) == struct.pack(">IHHII", 28, 16, 0, 7, 1) + body
    assert pack(2) == b"\x00\x00\x00\x10\x00\x10\x00\x00\x00\x00\x00\x02\x00\x00\x00\x01"
    assert unpack(pack(5, b"[]", protover=0)) == [Packet(5, b"[]", 0)]


def test_several_packets_in_one_frame_come_out_in_order() -> None:
    popularity = struct.pack(">I", 4321)
    data = raw(3, popularity, 1) + raw(5, b'{"cmd":"A"}') + raw(8, b'{"code":0}') + raw(5, b"")
    assert unpack(data) == [
        Packet(3, popularity, 1),
        Packet(5, b'{"cmd":"A"}', 0),
        Packet(8, b'{"code":0}', 0),
        Packet(5, b"", 0),
    ]
    assert unpack(b"") == []


def test_zlib_and_brotli_batches_are_opened_in_place() -> None:
    batch = raw(5, b'{"cmd":"B"}') + raw(5, b'{"cmd":"C"}')
    data = raw(5, b'{"cmd":"A"}') + raw(5, zlib.compress(batch), 2) + raw(5, b'{"cmd":"D"}')
    assert [p.body for p in unpack(data)] == [f'{{"cmd":"{c}"}}'.encode() for c in "ABCD"]
    assert [p.body for p in unpack(raw(5, brotli.compress(batch), 3))] == [
        b'{"cmd":"B"}',
        b'{"cmd":"C"}',
    ]


def test_nested_compression_is_flattened() -> None:
    inner = raw(5, zlib.compress(raw(5, b'{"cmd":"deep"}')), 2)
    assert unpack(raw(5, brotli.compress(inner + raw(3, b"\0\0\0\1", 1)), 3)) == [
        Packet(5, b'{"cmd":"deep"}', 0),
        Packet(3, b"\0\0\0\1", 1),
    ]


def test_compressed_bodies_nested_too_deep_are_refused() -> None:
    data = raw(5, b"{}")
    for _ in range(4):
        data = raw(5, zlib.compress(data), 2)
    with pytest.raises(PacketError, match="nested"):
        unpack(data)


GOOD = raw(5, b'{"cmd":"A"}')


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (GOOD[:10], "truncated header"),
        (GOOD + GOOD[:20], "truncated packet"),
        (raw(5, b"{}", length=40), "truncated packet"),
        (raw(5, b"{}", length=12), "inconsistent"),
        (struct.pack(">IHHII", 20, 8, 0, 5, 1) + b"{}{}", "inconsistent"),
        (raw(5, b"not zlib at all", 2), "bad zlib"),
        (raw(5, zlib.compress(GOOD * 50)[:-6], 2), "incomplete zlib"),
        (raw(5, b"\xff\xfe not brotli", 3), "bad brotli"),
        (raw(5, brotli.compress(GOOD * 50)[:-4], 3), "brotli"),
        (raw(5, zlib.compress(GOOD[:-3]), 2), "truncated packet"),
    ],
    ids=[
        "short-header",
        "short-second-packet",
        "length-past-end",
        "length-under-header",
        "header-under-16",
        "bad-zlib",
        "cut-zlib",
        "bad-brotli",
        "cut-brotli",
        "bad-inner-packet",
    ],
)
def test_malformed_frames_raise_packet_error(data: bytes, reason: str) -> None:
    with pytest.raises(PacketError, match=reason) as caught:
        unpack(data)
    assert isinstance(caught.value, ConnectorError)


@pytest.mark.parametrize("protover", [2, 3])
def test_a_zip_bomb_is_refused(protover: int) -> None:
    zeros = b"\0" * (MAX_INFLATED + 1)
    bomb = zlib.compress(zeros, 9) if protover == 2 else brotli.compress(zeros, quality=5)
    assert len(bomb) < 64 * 1024
    with pytest.raises(PacketError, match="over"):
        unpack(raw(5, bomb, protover))


def test_the_bound_counts_all_batches_of_a_frame() -> None:
    half = zlib.compress(raw(5, b" " * (MAX_INFLATED // 2)))
    assert len(unpack(raw(5, half, 2))) == 1
    with pytest.raises(PacketError, match="over"):
        unpack(raw(5, half, 2) + raw(5, half, 2))
