"""Room HTTP routes: catalog upload, chat log, outputs, live, health, frames and the pages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from assistant.catalog import Catalog
from assistant.events import ChatAccepted
from assistant.live import FRAMES_KEPT, LiveSnapshot
from assistant.rooms import RoomCreated
from assistant.settings import ServerSettings
from tests.conftest import ADMIN, create_room, make_settings, ws_url
from tests.images import png
from tests.server import serve
from tests.wsclient import RoomClient, room_client

CSV_HEADER = "sku,title,price,stock,category,selling_points"
CSV_ROWS = [
    ("NEW-CUP-1", "新款保温杯", "59.9", "12", "home", "轻|保温12小时"),
    ("NEW-TEA-2", "新茶礼盒", "128", "0", "food", ""),
    ("NEW-EAR-3", "运动耳机", "199", "40", "electronics", "防水"),
]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csv_body(rows: Sequence[Sequence[str]]) -> bytes:
    return "\n".join([CSV_HEADER, *(",".join(r) for r in rows)]).encode()


async def poll(client: httpx.AsyncClient, url: str, token: str, status: int) -> httpx.Response:
    async with asyncio.timeout(5):
        while True:
            resp = await client.get(url, headers=auth(token))
            if resp.status_code == status:
                return resp
            await asyncio.sleep(0.02)


async def catalog(client: httpx.AsyncClient, room: RoomCreated) -> Catalog:
    resp = await client.get(f"/v1/rooms/{room.room_id}/catalog", headers=auth(room.tokens["host"]))
    assert resp.status_code == 200
    return Catalog.model_validate(resp.json())


async def test_upload_csv_replaces_catalog(client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/v1/rooms/{room.room_id}/catalog/upload"
    headers = {**auth(room.tokens["host"]), "Content-Type": "text/csv; charset=utf-8"}
    resp = await client.post(url, content=csv_body(CSV_ROWS), headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"products": len(CSV_ROWS)}
    products = (await catalog(client, room)).products
    assert [(p.sku, p.title, p.price, p.stock, p.category) for p in products] == [
        (sku, title, float(price), int(stock), category)
        for sku, title, price, stock, category, _ in CSV_ROWS
    ]
    assert [p.selling_points for p in products] == [
        [s for s in r[-1].split("|") if s] for r in CSV_ROWS
    ]
    # With no declared type a JSON list is recognised by its content.
    items = [p.model_dump() for p in products[:1]]
    sniffed = await client.post(
        url, content=json.dumps(items).encode(), headers=auth(room.tokens["host"])
    )
    assert sniffed.status_code == 200, sniffed.text
    assert [p.sku for p in (await catalog(client, room)).products] == [CSV_ROWS[0][0]]


async def test_upload_bad_csv_changes_nothing(client: httpx.AsyncClient, room: RoomCreated) -> None:
    before = await catalog(client, room)
    rows = [CSV_ROWS[0], ("BAD-1", "坏价格", "free", "1", "home", ""), CSV_ROWS[2]]
    rows.append(("BAD-2", "", "10", "-1", "home", ""))
    resp = await client.post(
        f"/v1/rooms/{room.room_id}/catalog/upload",
        content=csv_body(rows),
        headers={**auth(room.tokens["host"]), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "bad_catalog"
    assert {(d["row"], d["sku"], d["field"]) for d in body["details"]} == {
        (2, "BAD-1", "price"),
        (4, "BAD-2", "title"),
        (4, "BAD-2", "stock"),
    }
    assert await catalog(client, room) == before


async def test_upload_is_host_only(client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/v1/rooms/{room.room_id}/catalog/upload"
    for role in ("viewer", "anchor"):
        resp = await client.post(url, content=csv_body(CSV_ROWS), headers=auth(room.tokens[role]))
        assert resp.status_code == 403
        assert resp.json()["code"] == "forbidden"
    assert (await client.post(url, content=csv_body(CSV_ROWS))).status_code == 401


async def test_upload_too_large(tmp_path: Path) -> None:
    limit = 1024
    server = ServerSettings(
        admin_token=SecretStr(ADMIN), demo_catalog=None, max_catalog_bytes=limit
    )
    async with (
        serve(make_settings(tmp_path, server=server)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        room = await create_room(client)
        rows = [(f"SKU-{i}", "保温杯", "10", "1", "home", "") for i in range(100)]
        body = csv_body(rows)
        assert len(body) > limit
        upload = f"/v1/rooms/{room.room_id}/catalog/upload"
        resp = await client.post(upload, content=body, headers=auth(room.tokens["host"]))
        assert resp.status_code == 413
        assert resp.json()["code"] == "too_large"
        assert (await catalog(client, room)).products == []
        small = await client.post(
            upload, content=csv_body(rows[:2]), headers=auth(room.tokens["host"])
        )
        assert small.status_code == 200


async def ask(viewer: RoomClient, text: str) -> ChatAccepted:
    await viewer.chat(text)
    accepted = await viewer.expect("chat.accepted")
    assert isinstance(accepted, ChatAccepted)
    return accepted


async def test_chat_log(base_url: str, client: httpx.AsyncClient, room: RoomCreated) -> None:
    questions = ["这款保温杯多少钱？", "羽绒服有几种颜色？", "耳机续航多久？"]
    async with (
        room_client(ws_url(base_url, room, "viewer")) as viewer,
        room_client(ws_url(base_url, room, "host")) as host,
    ):
        acks = [await ask(viewer, q) for q in questions]
        await host.chat("欢迎大家来到直播间", user_id="h", name="主播")
        host_ack = await host.expect("chat.accepted")
        assert isinstance(host_ack, ChatAccepted)
        acks.append(host_ack)
    url = f"/v1/rooms/{room.room_id}/chat"
    host_auth = auth(room.tokens["host"])
    everything = (await client.get(url, headers=host_auth)).json()
    assert [r["chat"]["text"] for r in everything] == [*questions, "欢迎大家来到直播间"]
    assert [r["chat"]["id"] for r in everything] == [a.chat_id for a in acks]
    assert [r["status"] for r in everything] == [a.status for a in acks]
    assert [r["chat"]["role"] for r in everything] == ["viewer"] * len(questions) + ["host"]

    queued = (await client.get(url, params={"status": "queued"}, headers=host_auth)).json()
    assert queued == [r for r in everything if r["status"] == "queued"]
    newest = await client.get(url, params={"newest": "true", "limit": 2}, headers=host_auth)
    assert newest.json() == everything[-2:]
    oldest = await client.get(url, params={"limit": 2}, headers=host_auth)
    assert oldest.json() == everything[:2]
    since = everything[1]["chat"]["ts"]
    later = await client.get(url, params={"since": since}, headers=host_auth)
    assert later.json() == [r for r in everything if r["chat"]["ts"] >= since]
    assert later.json()[0] == everything[1]

    assert (await client.get(url, headers=auth(room.tokens["viewer"]))).status_code == 403
    assert (await client.get(url, params={"limit": 0}, headers=host_auth)).status_code == 422


async def test_outputs(client: httpx.AsyncClient, room: RoomCreated) -> None:
    base = f"/v1/rooms/{room.room_id}/outputs"
    for kind in ("script", "answer", "compliance", "recommendation"):
        resp = await client.get(f"{base}/{kind}", headers=auth(room.tokens["host"]))
        assert resp.status_code == 200 and resp.json() == []
    bad = await client.get(f"{base}/secrets", headers=auth(room.tokens["host"]))
    assert bad.status_code == 422 and bad.json()["code"] == "bad_input"
    viewer = await client.get(f"{base}/script", headers=auth(room.tokens["viewer"]))
    assert viewer.status_code == 403


async def test_live(base_url: str, client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/v1/rooms/{room.room_id}/live"
    for role in ("viewer", "anchor", "host"):
        resp = await client.get(url, headers=auth(room.tokens[role]))
        assert resp.status_code == 200
        assert LiveSnapshot.model_validate(resp.json()) == LiveSnapshot()
    sku = (await catalog(client, room)).products[0].sku
    async with room_client(ws_url(base_url, room, "host")) as host:
        await host.send({"type": "stage.set", "sku": sku})
        await host.expect("product.card")
    resp = await client.get(url, params={"token": room.tokens["viewer"]})
    card = LiveSnapshot.model_validate(resp.json()).card
    assert card is not None and (card.sku, card.source) == (sku, "pin")
    assert (await client.get(url, headers=auth("forged"))).status_code == 401
    unknown = await client.get("/v1/rooms/nosuchroom/live", headers=auth(room.tokens["viewer"]))
    forged = await client.get(url, headers=auth("forged"))
    assert unknown.status_code == 401 and unknown.json() == forged.json()  # rooms can't be probed


async def test_health(base_url: str, client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/v1/rooms/{room.room_id}/health"
    host_auth = auth(room.tokens["host"])
    health: dict[str, Any] = (await client.get(url, headers=host_auth)).json()
    assert health["room"]["room_id"] == room.room_id and health["room"]["title"] == "测试直播间"
    assert health["backlog"] == 0 and health["connections"].get("viewer", 0) == 0
    assert health["vision"] is None and isinstance(health["latencies"], dict)
    assert health["capabilities"] == []  # the test settings enable no capability
    async with room_client(ws_url(base_url, room, "viewer")) as viewer:
        ack = await ask(viewer, "这款保温杯多少钱？")
        health = (await client.get(url, headers=host_auth)).json()
        assert health["connections"]["viewer"] == 1
        # Nothing answers in these settings, so the accepted question stays in the backlog.
        assert ack.status == "queued" and health["backlog"] == 1
    async with asyncio.timeout(5):
        while True:
            health = (await client.get(url, headers=host_auth)).json()
            if "viewer" not in health["connections"]:
                break
            await asyncio.sleep(0.02)
    assert (await client.get(url, headers=auth(room.tokens["viewer"]))).status_code == 403


async def test_frames(client: httpx.AsyncClient, room: RoomCreated) -> None:
    host = room.tokens["host"]
    posted: list[tuple[str, bytes]] = []
    for i in range(FRAMES_KEPT + 2):
        data = png((i * 40, 255 - i * 40, 7))
        resp = await client.post(
            f"/v1/rooms/{room.room_id}/frames", content=data, headers=auth(host)
        )
        assert resp.status_code == 202
        frame_id = resp.json()["frame_id"]
        # The newest frame wins on the bus: let each arrive before posting the next.
        got = await poll(client, f"/v1/rooms/{room.room_id}/frames/{frame_id}", host, 200)
        assert got.content == data and got.headers["content-type"] == "image/png"
        posted.append((frame_id, data))
    for frame_id, data in posted[-FRAMES_KEPT:]:
        resp = await client.get(f"/v1/rooms/{room.room_id}/frames/{frame_id}", headers=auth(host))
        assert resp.status_code == 200 and resp.content == data
    for frame_id, _ in posted[:-FRAMES_KEPT]:
        resp = await client.get(f"/v1/rooms/{room.room_id}/frames/{frame_id}", headers=auth(host))
        assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    newest = f"/v1/rooms/{room.room_id}/frames/{posted[-1][0]}"
    assert (await client.get(newest, headers=auth(room.tokens["viewer"]))).status_code == 403


async def test_console_page(client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/console/{room.room_id}"
    resp = await client.get(url, params={"token": room.tokens["host"]})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert (await client.get(url, params={"token": room.tokens["viewer"]})).status_code == 403
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, params={"token": "forged"})).status_code == 401
    unknown = await client.get("/console/nosuchroom", params={"token": room.tokens["host"]})
    assert unknown.status_code == 401


async def test_overlay_page_and_static(client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/overlay/{room.room_id}"
    for role in ("viewer", "anchor"):
        resp = await client.get(url, params={"token": room.tokens[role]})
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/html")
        assert resp.headers["referrer-policy"] == "no-referrer"
    assert (await client.get(url, params={"token": room.tokens["host"]})).status_code == 403
    script = await client.get("/static/console.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
