"""Fuzz: random and corrupted bytes against every endpoint never give a server error."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vision.conftest import open_app, png, sk
from vision.backends import Models
from vision.engine import VisionEngine
from vision.schemas import MODELS

pytestmark = pytest.mark.slow
SEED = png(sk("coffee")[::4, ::4])


@pytest.fixture(scope="module")
def app(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    engine = VisionEngine(models.settings, models.model_dir, models)
    yield open_app(engine, tmp_path_factory.mktemp("fuzz") / "s.sqlite3")
    engine.close()
    engine.close()


def post(app: FastAPI, path: str, content: bytes) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.post(path, content=content)).status_code

    return asyncio.run(go())


def corrupt(blob: bytes, cuts: list[tuple[int, int]]) -> bytes:
    out = bytearray(blob)
    for pos, value in cuts:
        out[pos % len(out)] = value
    return bytes(out)


image_bytes = st.one_of(
    st.binary(max_size=2048),
    st.builds(
        corrupt, st.just(SEED), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)))
    ),
    st.integers(1, len(SEED)).map(lambda n: SEED[:n]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(model=st.sampled_from(MODELS), blob=image_bytes)
def test_corrupt_images_never_500(app: FastAPI, model: str, blob: bytes) -> None:
    b = base64.b64encode(blob).decode()
    body: object = {"image": b}
    if model == "similarity":
        body = {"imagea": b, "imageb": b}
    elif model == "foreground_segmentation":
        body = {"input": {"url": "data:image/png;base64," + b}}
    assert post(app, f"/v1/vision/{model}", json.dumps(body).encode()) < 500


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(model=st.text(max_size=20) | st.sampled_from(MODELS), raw=st.binary(max_size=512))
def test_random_bodies_never_500(app: FastAPI, model: str, raw: bytes) -> None:
    path = "/v1/vision/" + "".join(c for c in model if c.isalnum() or c == "_")
    assert post(app, path, raw) < 500
