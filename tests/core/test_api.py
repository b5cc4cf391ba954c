"""HTTP API: health, metrics, room creation, tokens and atomic catalog validation."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from assistant.rooms import RoomCreated
from assistant.settings import BusSettings
from tests.conftest import ADMIN, DEMO_CATALOG, create_room, make_settings
from tests.server import free_port, serve


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_healthz_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/rooms/{room_id}/catalog" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_create_room_needs_admin(client: httpx.AsyncClient) -> None:
    body = {"title": "x"}
    assert (await client.post("/v1/rooms", json=body)).status_code == 401
    wrong = await client.post("/v1/rooms", json=body, headers=auth("nope"))
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "unauthorized"
    created = await client.post("/v1/rooms", json=body, headers=auth(ADMIN))
    assert created.status_code == 201
    tokens = created.json()["tokens"]
    assert set(tokens) == {"host", "viewer", "anchor"}
    assert len(set(tokens.values())) == 3


async def test_create_room_rejects_bad_spec(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/v1/rooms", json={"title": "x", "mode": "karaoke"}, headers=auth(ADMIN)
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "bad_input"
    assert any("mode" in d["loc"] for d in resp.json()["details"])


async def test_catalog_round_trip(client: httpx.AsyncClient, room: RoomCreated) -> None:
    resp = await client.get(f"/v1/rooms/{room.room_id}/catalog", headers=auth(room.tokens["host"]))
    assert resp.status_code == 200
    expected = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))["products"]
    assert [p["sku"] for p in resp.json()["products"]] == [p["sku"] for p in expected]


async def test_catalog_roles(client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/v1/rooms/{room.room_id}/catalog"
    for role in ("viewer", "anchor"):
        assert (await client.get(url, headers=auth(room.tokens[role]))).status_code == 403
        put = await client.put(url, json={"products": []}, headers=auth(room.tokens[role]))
        assert put.status_code == 403
        assert put.json()["code"] == "forbidden"
    assert (await client.get(url)).status_code == 401
    other = await create_room(client)
    cross = await client.get(url, headers=auth(other.tokens["host"]))
    assert cross.status_code == 401


async def test_unknown_room(client: httpx.AsyncClient, room: RoomCreated) -> None:
    resp = await client.get("/v1/rooms/nope/catalog", headers=auth(room.tokens["host"]))
    forged = await client.get(f"/v1/rooms/{room.room_id}/catalog", headers=auth("forged"))
    assert resp.status_code == 401 and resp.json() == forged.json()  # room ids can't be probed


async def test_bad_catalog_is_rejected_whole(client: httpx.AsyncClient, room: RoomCreated) -> None:
    url = f"/v1/rooms/{room.room_id}/catalog"
    headers = auth(room.tokens["host"])
    before = (await client.get(url, headers=headers)).json()
    good = before["products"][0]
    bad = [
        good,
        {**good, "sku": "NEW-1", "price": -3},
        {**good, "sku": "NEW-2", "stock": "many"},
        {**good, "sku": "NEW-3", "unexpected": 1},
    ]
    resp = await client.put(url, json={"products": bad}, headers=headers)
    assert resp.status_code == 422
    locs = [d["loc"] for d in resp.json()["details"]]
    assert ["body", "products", 1, "price"] in locs
    assert ["body", "products", 2, "stock"] in locs
    assert ["body", "products", 3, "unexpected"] in locs
    dupes = await client.put(url, json={"products": [good, good]}, headers=headers)
    assert dupes.status_code == 422
    assert "duplicate sku" in json.dumps(dupes.json(), ensure_ascii=False)
    malformed = await client.put(url, content=b"{not json", headers=headers)
    assert malformed.status_code == 422
    assert (await client.get(url, headers=headers)).json() == before


async def test_metrics_exposed(client: httpx.AsyncClient, room: RoomCreated) -> None:
    text = (await client.get("/metrics")).text
    for name in (
        "lca_ws_connections",
        "lca_events_total",
        "lca_chat_backlog",
        "lca_chat_ingest_seconds",
    ):
        assert name in text
    assert 'lca_events_total{type="catalog.updated"} 1.0' in text
    assert room.room_id not in text  # the endpoint has no token: no room ids on it


async def test_readyz_checks_the_bus_and_the_store(client: httpx.AsyncClient) -> None:
    resp = await client.get("/readyz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ready"
    assert {c["name"]: c["ok"] for c in body["checks"]} == {"bus": True, "store": True}


async def test_readyz_is_503_while_the_bus_cannot_be_reached(tmp_path: Path) -> None:
    """Liveness stays ok (the process serves), readiness says which part is down."""
    dead = BusSettings(backend="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with (
        serve(make_settings(tmp_path, bus=dead)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        assert (await http.get("/healthz")).status_code == 200
        resp = await http.get("/readyz")
        assert resp.status_code == 503
        checks = {c["name"]: c for c in resp.json()["checks"]}
        assert not checks["bus"]["ok"] and checks["store"]["ok"]


async def test_room_health_reports_its_loops(client: httpx.AsyncClient) -> None:
    room = await create_room(client)
    resp = await client.get(f"/v1/rooms/{room.room_id}/health", headers=auth(room.tokens["host"]))
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok" and body["outbox"] == 0
    (leases,) = body["loops"]  # the core's loop that serves every room
    assert (leases["capability"], leases["name"]) == ("core", "leases")
    assert leases["restarts"] == 0 and not leases["degraded"]
