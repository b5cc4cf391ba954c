"""Shared fixtures: settings on a temp store, a running app, and a room with its tokens."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from assistant.brain.llm.settings import AnswerSettings, LLMSettings
from assistant.events import Role
from assistant.rooms import RoomCreated
from assistant.settings import BusSettings, ServerSettings, Settings, StoreSettings
from assistant.understand.settings import UnderstandSettings
from tests.server import serve

# `make test-fast` has the base dependencies alone (LCA_FAST_LANE=1): the tests of the model
# backends, the browser and the fault tests (real processes) are not collected there.
# `make test` collects all: CI skips nothing.
MODEL_TESTS = ["vision", "web", "recommend", "assistant/test_llamacpp.py"]
MODEL_TESTS += ["assistant/test_real_model.py", "faults"]
MODEL_TESTS += ["avatar/test_push.py"]  # PyAV (the connectors extra) is not in the fast lane
# the connectors that need PyAV (the [connectors] extra) for their clips and JPEGs
MODEL_TESTS += ["connectors/test_stream.py", "connectors/test_obs.py"]
collect_ignore = MODEL_TESTS if os.environ.get("LCA_FAST_LANE") == "1" else []

ADMIN = "test-admin-token"
DEMO_CATALOG = Path(__file__).resolve().parent.parent / "data" / "demo_catalog.json"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "server": ServerSettings(admin_token=SecretStr(ADMIN), demo_catalog=None),
        "store": StoreSettings(path=tmp_path / "lca.sqlite3"),
        "bus": BusSettings(backend="memory"),
        "capabilities": [],
        # names and sounds only: the core tests need no model (the understanding tests load one)
        "understand": UnderstandSettings(embedder="none"),
    }
    base.update(overrides)
    return Settings.model_validate(base)


def catalog_brain_settings(tmp_path: Path, **overrides: object) -> Settings:
    """The brain with no model: answers come from the catalog in the code's own words."""
    brain: dict[str, object] = {
        "capabilities": ["brain"],
        "llm": LLMSettings(backend="none"),
        "answers": AnswerSettings(phrase_with_llm=False),
    }
    return make_settings(tmp_path, **(brain | overrides))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def base_url(settings: Settings) -> AsyncIterator[str]:
    async with serve(settings) as url:
        yield url


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        yield http


async def demo_room(http: httpx.AsyncClient) -> RoomCreated:
    """A fresh room holding the demo catalog."""
    room = await create_room(http)
    put = await http.put(
        f"/v1/rooms/{room.room_id}/catalog",
        json=json.loads(DEMO_CATALOG.read_text(encoding="utf-8")),
        headers={"Authorization": f"Bearer {room.tokens['host']}"},
    )
    assert put.status_code == 200, put.text
    return room


async def create_room(http: httpx.AsyncClient, **spec: str) -> RoomCreated:
    body = {"title": "测试直播间", **spec}
    resp = await http.post("/v1/rooms", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 201, resp.text
    return RoomCreated.model_validate(resp.json())


@pytest.fixture
async def room(client: httpx.AsyncClient) -> RoomCreated:
    created = await create_room(client)
    resp = await client.put(
        f"/v1/rooms/{created.room_id}/catalog",
        content=DEMO_CATALOG.read_bytes(),
        headers={
            "Authorization": f"Bearer {created.tokens['host']}",
            "Content-Type": "application/json",
        },
    )
    assert resp.status_code == 200, resp.text
    return created


def ws_url(base_url: str, room: RoomCreated, role: Role, **params: str) -> str:
    query = "&".join([f"token={room.tokens[role]}", *(f"{k}={v}" for k, v in params.items())])
    return f"{base_url.replace('http', 'ws', 1)}/v1/rooms/{room.room_id}/ws?{query}"
