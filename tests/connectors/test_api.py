"""Connectors through the real app: a host starts a relay, a capture tool posts Douyin chat,
the viewer's question is answered from the catalog; tokens, bad input, stop and health."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from assistant.catalog import Catalog
from assistant.events import Answer, Role
from assistant.rooms import RoomCreated
from tests.conftest import DEMO_CATALOG, catalog_brain_settings, demo_room, ws_url
from tests.server import serve
from tests.wsclient import room_client


def douyin_chat(msg_id: int, text: str, nickname: str = "雨后晴天") -> dict[str, Any]:
    """One chat line as DouyinBarrageGrab packs it (``Data``: the message as a JSON string)."""
    data = {"MsgId": msg_id, "Content": text, "User": {"Id": 99163136548, "Nickname": nickname}}
    return {"Type": 1, "ProcessName": "chrome", "Data": json.dumps(data, ensure_ascii=False)}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, RoomCreated, str]]:
    settings = catalog_brain_settings(tmp_path)
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield http, await demo_room(http), url


def auth(room: RoomCreated, role: Role = "host") -> dict[str, str]:
    return {"Authorization": f"Bearer {room.tokens[role]}"}


async def start_relay(http: httpx.AsyncClient, room: RoomCreated) -> dict[str, Any]:
    resp = await http.post(
        f"/v1/rooms/{room.room_id}/connectors",
        json={"kind": "relay", "platform": "douyin"},
        headers=auth(room),
    )
    assert resp.status_code == 201, resp.text
    started: dict[str, Any] = resp.json()
    return started


async def test_a_douyin_question_posted_to_the_relay_is_answered(
    app: tuple[httpx.AsyncClient, RoomCreated, str],
) -> None:
    http, room, url = app
    product = next(
        p
        for p in Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8")).products
        if p.stock > 0
    )
    started = await start_relay(http, room)
    relay = {"Authorization": f"Bearer {started['relay_token']}"}
    async with room_client(ws_url(url, room, "host")) as host:
        batch = [douyin_chat(1, f"{product.title}多少钱？"), douyin_chat(1, "again")]
        resp = await http.post(started["relay_path"], json=batch, headers=relay)
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 2  # the repeated MsgId is dropped by the room side
        answer = await host.expect("answer", timeout=30)
    assert isinstance(answer, Answer) and f"{product.price:g}" in answer.text
    log = (await http.get(f"/v1/rooms/{room.room_id}/chat", headers=auth(room))).json()
    assert [(line["chat"]["user"]["id"], line["status"]) for line in log] == [
        ("douyin:99163136548", "answered")
    ]
    (status,) = (await http.get(f"/v1/rooms/{room.room_id}/connectors", headers=auth(room))).json()
    assert (status["state"], status["received"], status["dropped"]) == ("connected", 1, 1)
    health = (await http.get(f"/v1/rooms/{room.room_id}/health", headers=auth(room))).json()
    assert [c["id"] for c in health["connectors"]] == [started["status"]["id"]]


async def test_only_the_host_starts_connectors_and_only_the_relay_token_posts(
    app: tuple[httpx.AsyncClient, RoomCreated, str],
) -> None:
    http, room, _ = app
    path = f"/v1/rooms/{room.room_id}/connectors"
    viewer = await http.post(path, json={"kind": "relay"}, headers=auth(room, "viewer"))
    assert viewer.status_code == 403
    unknown = await http.post(path, json={"kind": "myspace"}, headers=auth(room))
    assert unknown.status_code == 422 and unknown.json()["code"] == "bad_input"
    started = await start_relay(http, room)
    batch = [douyin_chat(2, "有优惠吗")]
    for token in (room.tokens["host"], room.tokens["viewer"], "x" * 32, None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        refused = await http.post(started["relay_path"], json=batch, headers=headers)
        assert refused.status_code == 401
    stopped = await http.delete(f"{path}/{started['status']['id']}", headers=auth(room))
    assert stopped.json()["state"] == "stopped"
    relay = {"Authorization": f"Bearer {started['relay_token']}"}
    gone = await http.post(started["relay_path"], json=batch, headers=relay)
    assert gone.status_code == 401
    assert (await http.get(path, headers=auth(room))).json() == []


async def test_the_relay_socket_answers_each_batch_and_survives_bad_ones(
    app: tuple[httpx.AsyncClient, RoomCreated, str],
) -> None:
    http, room, url = app
    started = await start_relay(http, room)
    base = url.replace("http", "ws", 1) + started["relay_path"]
    async with connect(f"{base}?token={started['relay_token']}") as socket:
        await socket.send("{not json")
        error = json.loads(await socket.recv())
        assert error["type"] == "error" and error["code"] == "bad_message"
        await socket.send(json.dumps([douyin_chat(3, "什么时候发货"), {"Type": 1}]))
        counts = json.loads(await socket.recv())
        assert (counts["accepted"], counts["dropped"], len(counts["errors"])) == (1, 1, 1)
        path = f"/v1/rooms/{room.room_id}/connectors/{started['status']['id']}"
        assert (await http.delete(path, headers=auth(room))).status_code == 200
        await socket.send(json.dumps([douyin_chat(4, "还在吗")]))
        with pytest.raises(ConnectionClosedError):
            await socket.recv()  # the connector was stopped: its socket takes nothing more
    assert socket.close_code == 4401
    async with connect(f"{base}?token=wrong") as refused:
        with pytest.raises(ConnectionClosedError):
            await refused.recv()
    assert refused.close_code == 4401


async def test_a_host_cannot_make_the_service_read_its_files_or_listen(
    app: tuple[httpx.AsyncClient, RoomCreated, str],
) -> None:
    http, room, _ = app
    path = f"/v1/rooms/{room.room_id}/connectors"
    for spec in (
        {"kind": "stream", "url": "/etc/passwd"},
        {"kind": "stream", "url": "file:///var/lib/secret.mp4"},
        {"kind": "stream", "url": "rtmp://0.0.0.0:1935/live/x", "listen": True},
        {"kind": "stream", "url": "pipe:0"},
    ):
        resp = await http.post(path, json=spec, headers=auth(room))
        assert resp.status_code in (403, 422), (spec, resp.text)
    assert (await http.get(path, headers=auth(room))).json() == []
