"""Limits before work: no body is read before its sender is known, and none past its cap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from assistant.events import Role
from assistant.rooms import RoomCreated
from assistant.settings import ServerSettings, Settings
from tests.conftest import ADMIN, create_room, make_settings
from tests.server import serve

Served = tuple[str, RoomCreated]
DECLARED = 24 * 1024 * 1024


def limited(tmp_path: Path) -> Settings:
    server = ServerSettings.model_validate(
        {
            "admin_token": ADMIN,
            "demo_catalog": None,
            "header_timeout_s": 0.5,
            "max_catalog_bytes": 64 * 1024,
        }
    )
    return make_settings(tmp_path, server=server)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(limited(tmp_path)) as url, httpx.AsyncClient(base_url=url) as http:
        yield url, await create_room(http)


async def exchange(url: str, head: str, body: bytes = b"") -> tuple[int, bool]:
    """Send a request head and part of a body; the status the server answers with, and whether
    it then closed the connection, without the client ever sending the rest."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        try:
            await asyncio.wait_for(reader.read(), 2)  # the error body, then EOF if it closed
        except TimeoutError:
            return int(status_line.split()[1]), False
        return int(status_line.split()[1]), reader.at_eof()
    finally:
        writer.close()


def put(path: str, *headers: str, length: int = DECLARED) -> str:
    lines = [f"PUT {path} HTTP/1.1", "Host: t", "Content-Type: application/json",
             f"Content-Length: {length}", *headers]  # fmt: skip
    return "\r\n".join(lines) + "\r\n\r\n"


async def test_a_big_body_without_a_token_is_refused_before_it_is_sent(served: Served) -> None:
    url, room = served
    status, closed = await exchange(url, put(f"/v1/rooms/{room.room_id}/catalog"), b'{"pro')
    assert (status, closed) == (401, True)


@pytest.mark.parametrize("role", ["viewer", "anchor"])
async def test_a_big_body_from_a_non_host_is_refused_before_it_is_sent(
    served: Served, role: Role
) -> None:
    url, room = served
    auth = f"Authorization: Bearer {room.tokens[role]}"
    status, closed = await exchange(url, put(f"/v1/rooms/{room.room_id}/catalog", auth), b'{"pro')
    assert (status, closed) == (403, True)


async def test_a_host_body_over_its_declared_cap_is_refused_before_it_is_sent(
    served: Served,
) -> None:
    url, room = served
    auth = f"Authorization: Bearer {room.tokens['host']}"
    status, closed = await exchange(url, put(f"/v1/rooms/{room.room_id}/catalog", auth), b'{"pro')
    assert (status, closed) == (413, False)  # a host may send a smaller catalog on it


async def test_a_streamed_body_is_cut_at_its_cap(served: Served) -> None:
    url, room = served

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"products": ['
        for _ in range(200):  # 200 x 1 KiB, past the 64 KiB cap, with no declared length
            yield b" " * 1024

    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.put(
            f"/v1/rooms/{room.room_id}/catalog",
            content=chunks(),
            headers={"Authorization": f"Bearer {room.tokens['host']}"},
        )
    assert resp.status_code == 413 and resp.json()["code"] == "too_large"


async def test_headers_that_never_end_are_cut_off(served: Served) -> None:
    url, _ = served
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    await writer.drain()
    try:
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing answered
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/v1/rooms", "/v1/rooms/{room}/catalog", "/v1/rooms/{room}/shop"])
async def test_deeply_nested_json_is_a_typed_422(served: Served, path: str) -> None:
    url, room = served
    token = ADMIN if path == "/v1/rooms" else room.tokens["host"]
    deep = "[" * 20_000 + "]" * 20_000  # under the 64 KiB cap, far past any parser's depth
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        send = http.post if path == "/v1/rooms" else http.put
        resp = await send(
            path.format(room=room.room_id),
            content=deep.encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert resp.status_code == 422 and resp.json()["code"] == "bad_input"
        assert (await http.get("/healthz")).status_code == 200


async def test_a_non_ascii_bearer_is_a_wrong_token(served: Served) -> None:
    url, _ = served
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post(
            "/v1/rooms",
            json={"title": "x"},
            headers={b"Authorization": "Bearer 管理员密钥".encode()},
        )
    assert resp.status_code == 401 and resp.json()["code"] == "unauthorized"


async def test_a_csv_cell_past_the_csv_field_limit_is_a_row_error(tmp_path: Path) -> None:
    settings = limited(tmp_path)
    server = settings.server.model_copy(update={"max_catalog_bytes": 4 * 1024 * 1024})
    async with (
        serve(settings.model_copy(update={"server": server})) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        room = await create_room(http)
        cell = "x" * (128 * 1024 + 1)
        csv = f"sku,title,price,stock,category\nA-1,{cell},9.9,3,零食\n".encode()
        resp = await http.post(
            f"/v1/rooms/{room.room_id}/catalog/upload",
            content=csv,
            headers={"Authorization": f"Bearer {room.tokens['host']}", "Content-Type": "text/csv"},
        )
    assert resp.status_code == 422
    assert [e["row"] for e in json.loads(resp.text)["details"]] == [1]
