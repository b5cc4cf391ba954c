"""The OBS overlay in Debian's chromium against the demo's virtual-anchor room, real TTS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from assistant.__main__ import ensure_demo_rooms
from assistant.brain.llm.settings import LLMSettings
from assistant.catalog import Catalog
from assistant.events import Answer, ChatAccepted, Role, Subtitle
from assistant.rooms import RoomCreated
from tests.conftest import DEMO_CATALOG, make_settings, ws_url
from tests.server import serve
from tests.web.conftest import open_page, screenshot
from tests.wsclient import RoomClient, room_client

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
CATALOG = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))


@dataclass
class Service:
    url: str
    room: RoomCreated

    def overlay(self, role: Role = "anchor") -> str:
        return f"{self.url}/overlay/{self.room.room_id}?token={self.room.tokens[role]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    settings = make_settings(
        tmp_path_factory.mktemp("overlay"),
        capabilities=["brain", "avatar"],
        # Template scripts keep the anchor talking without loading an LLM; speech is real TTS.
        llm=LLMSettings(backend="none"),
    )
    settings.server.demo_catalog = DEMO_CATALOG
    rooms = await ensure_demo_rooms(settings)
    assert rooms is not None
    async with serve(settings) as url:
        yield Service(url, rooms.anchor)


async def stats(page: Page) -> dict[str, Any]:
    value: dict[str, Any] = await page.evaluate("() => ({...window.lcaOverlay})")
    return value


async def heard_subtitles(anchor: RoomClient, seconds: float) -> list[Subtitle]:
    """What the room said during ``seconds``, as a second anchor client hears it."""
    said: list[Subtitle] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            raw = await asyncio.wait_for(anchor.conn.recv(), left)
        except TimeoutError:
            break
        if isinstance(raw, str) and '"type":"subtitle"' in raw:
            event = Subtitle.model_validate_json(raw)
            said.append(event)
    return said


async def shown_subtitles(page: Page, seconds: float) -> list[str]:
    """The overlay's subtitle text each time it changes, for ``seconds``."""
    shown: list[str] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        text = await page.text_content("#subtitle")
        if text and (not shown or shown[-1] != text):
            shown.append(text)
        await asyncio.sleep(0.1)
    return shown


async def test_overlay_plays_audio_and_advances_subtitles(
    service: Service, browser: Browser
) -> None:
    async with (
        room_client(ws_url(service.url, service.room, "anchor")) as anchor,
        httpx.AsyncClient(base_url=service.url) as http,
    ):
        listening = asyncio.create_task(heard_subtitles(anchor, 20.0))
        live = await http.get(
            f"/v1/rooms/{service.room.room_id}/live",
            headers={"Authorization": f"Bearer {service.room.tokens['anchor']}"},
        )
        before = (live.json().get("subtitle") or {}).get("text")
        page, errors = await open_page(browser, service.overlay(), width=1280, height=720)
        shown = await shown_subtitles(page, 15.0)
        said = await listening
    assert len(set(shown)) >= 2  # the subtitle moved on, sentence by sentence
    assert set(shown) <= {s.text for s in said} | {before}

    played = await stats(page)
    assert played["contextState"] == "running"
    assert played["chunksReceived"] > 0
    assert played["chunksScheduled"] == played["chunksReceived"] - played["chunksDropped"]
    assert played["chunksDropped"] == 0 and played["scheduledSeconds"] > 1.0
    assert played["underruns"] == 0  # the chunks were queued back to back, without gaps

    card_sku = await page.get_attribute("#card", "data-sku")
    assert card_sku is not None and await page.locator("#card").is_visible()
    product = CATALOG.get(card_sku)
    assert product is not None and await page.text_content("#card-title") == product.title
    assert card_sku in {s.sku for s in said if s.sku}
    errors.check()


async def test_overlay_shows_the_latest_answered_question(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.overlay(), width=1280, height=720)
    product = next(p for p in CATALOG.products if p.stock > 0)
    question = f"{product.title}多少钱？"
    async with room_client(ws_url(service.url, service.room, "viewer")) as viewer:
        await viewer.chat(question)
        accepted = await viewer.expect("chat.accepted", timeout=10)
        assert isinstance(accepted, ChatAccepted)
        answer = await viewer.expect("answer", timeout=60)
        assert isinstance(answer, Answer) and answer.chat_id == accepted.chat_id
    qa = page.locator(f'#qa[data-chat-id="{answer.chat_id}"]')
    await qa.wait_for(timeout=10_000)
    assert await page.text_content("#qa-question") == question
    assert await page.text_content("#qa-answer") == answer.text
    await page.wait_for_function("() => window.lcaOverlay.subtitlesShown > 0", timeout=20_000)
    await screenshot(page, "overlay.png", transparent=True)
    errors.check()


async def test_viewer_overlay_has_subtitles_but_no_audio(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.overlay("viewer"), width=1280, height=720)
    await page.wait_for_function("() => window.lcaOverlay.subtitlesShown >= 2", timeout=30_000)
    assert (await stats(page))["chunksReceived"] == 0  # audio goes to anchor tokens only
    errors.check()


async def test_overlay_refuses_a_host_token_and_a_bad_one(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.url) as http:
        room = service.room
        host = await http.get(f"/overlay/{room.room_id}?token={room.tokens['host']}")
        assert host.status_code == 403
        bad = await http.get(f"/overlay/{room.room_id}?token=nope")
        assert bad.status_code == 401


async def test_console_shows_what_the_anchor_says_next(service: Service, browser: Browser) -> None:
    room = service.room
    url = f"{service.url}/console/{room.room_id}?token={room.tokens['host']}"
    page, errors = await open_page(browser, url)
    await page.wait_for_selector("#anchor:not([hidden])", timeout=10_000)
    await page.wait_for_selector('dd[data-health="tts"].ok')
    await page.wait_for_function(
        "() => document.querySelectorAll('#anchor-queue li').length > 0", timeout=20_000
    )
    async with httpx.AsyncClient(base_url=service.url) as http:
        health = await http.get(
            f"/v1/rooms/{room.room_id}/health",
            headers={"Authorization": f"Bearer {room.tokens['host']}"},
        )
    tts = next(c for c in health.json()["capabilities"] if c["name"] == "tts")
    queued = {f"[{u['kind']}] {u['text']}" for u in tts["info"]["upcoming"]}
    shown = await page.locator("#anchor-queue li").all_text_contents()
    # The panel refreshes every two seconds and a sentence takes longer than that to say, so
    # the list on screen and the one read now share most of their lines.
    assert shown and set(shown) & queued
    errors.check()
