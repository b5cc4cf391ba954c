"""The host console in Debian's chromium against a running service with the demo room."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from assistant.__main__ import ensure_demo_rooms
from assistant.brain.llm.settings import LLMSettings
from assistant.catalog import Catalog, FaqItem
from assistant.events import Answer, ChatAccepted, Recommendation, ScriptApproved, VisionUpdate
from assistant.rooms import RoomCreated
from tests.conftest import DEMO_CATALOG, create_room, make_settings, ws_url
from tests.server import serve
from tests.vision.conftest import model_dir, png, render_frame
from tests.web.conftest import open_page, screenshot
from tests.web.proxy import Proxy
from tests.wsclient import RoomClient, room_client
from vision.install import install
from vision.settings import VisionSettings

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
CATALOG = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))


@dataclass
class Service:
    url: str
    room: RoomCreated
    proxy: Proxy
    http: httpx.AsyncClient

    def console(self, base: str | None = None) -> str:
        token = self.room.tokens["host"]
        return f"{base or self.url}/console/{self.room.room_id}?token={token}"

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.room.tokens['host']}"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    install(model_dir(), log=False)
    settings = make_settings(
        tmp_path_factory.mktemp("console"),
        capabilities=["vision", "brain", "recommend"],
        # The default model, as users run it: scripts stream sentence by sentence.
        llm=LLMSettings(backend="llamacpp", preset="default"),
        vision=VisionSettings(model_dir=model_dir(), workers=2),
    )
    settings.server.demo_catalog = DEMO_CATALOG
    rooms = await ensure_demo_rooms(settings)
    assert rooms is not None
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        proxy = Proxy(int(url.rsplit(":", 1)[1]))
        await proxy.start()
        yield Service(url, rooms.host, proxy, http)
        await proxy.close()


async def ask(viewer: RoomClient, text: str, user_id: str) -> tuple[str, Answer]:
    """Send a question as a viewer (one id per connection); returns its chat id and answer."""
    await viewer.chat(text, user_id=user_id)
    accepted = await viewer.expect("chat.accepted", timeout=10)
    assert isinstance(accepted, ChatAccepted) and accepted.status == "queued"
    while True:
        answer = await viewer.expect("answer", timeout=60)
        assert isinstance(answer, Answer)
        if answer.chat_id == accepted.chat_id:
            return accepted.chat_id, answer


async def line_shows(page: Page, chat_id: str, answer: Answer) -> None:
    line = page.locator(f'li[data-chat-id="{chat_id}"]')
    await line.and_(page.locator('[data-status="answered"]')).wait_for(timeout=15_000)
    assert await line.locator('[data-role="answer"]').text_content() == answer.text
    assert await line.evaluate("n => n.classList.contains('flagged')") == answer.flagged


async def test_question_appears_gets_answered_and_shows_its_status(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.console())
    await page.wait_for_selector("#conn[data-state=open]")
    product = next(p for p in CATALOG.products if p.stock > 0)
    async with room_client(ws_url(service.url, service.room, "viewer")) as viewer:
        priced_id, priced = await ask(viewer, f"{product.title}多少钱？", "buyer-1")
        vague_id, vague = await ask(viewer, "你们老板是哪里人？", "buyer-1")
    assert f"{product.price:g}" in priced.text
    await line_shows(page, priced_id, priced)
    await line_shows(page, vague_id, vague)
    line = page.locator(f'li[data-chat-id="{priced_id}"]')
    assert await line.locator(".text").text_content() == f"{product.title}多少钱？"

    await page.check("#only-flagged")
    for chat_id, answer in ((priced_id, priced), (vague_id, vague)):
        shown = await page.locator(f'li[data-chat-id="{chat_id}"]').is_visible()
        assert shown == answer.flagged
    await page.uncheck("#only-flagged")
    errors.check()


async def test_script_streams_into_the_panel(service: Service, browser: Browser) -> None:
    page, errors = await open_page(browser, service.console())
    await page.wait_for_selector("#conn[data-state=open]")
    # The health panel says when the model has loaded (it loads as the service starts).
    await page.wait_for_selector('dd[data-health="llm"].ok', timeout=120_000)
    product = CATALOG.products[3]
    await page.select_option("#script-sku", product.sku)
    await page.fill("#script-seconds", "20")
    await page.click("#script-go")
    await page.wait_for_selector("#script-state[data-state=streaming]", timeout=30_000)
    await page.wait_for_selector("#script-state[data-state=done]", timeout=90_000)
    deltas = int(await page.get_attribute("#script-state", "data-deltas") or 0)
    assert deltas > 1  # it arrived in pieces, not in one go
    resp = await service.http.get(
        f"/v1/rooms/{service.room.room_id}/outputs/script", headers=service.auth()
    )
    stored = [s for s in resp.json() if s["sku"] == product.sku]
    assert stored and await page.text_content("#script-text") == stored[-1]["text"]
    errors.check()


async def shown_script(page: Page, before: str | None) -> str:
    """Wait until the panel shows, section by section, a finished script other than ``before``."""
    await page.wait_for_function(
        """before => {
            const list = document.getElementById("script-sections");
            const done = document.getElementById("script-state").dataset.state === "done";
            const shown = list.dataset.requestId;
            return done && !list.hidden && Boolean(shown) && shown !== before;
        }""",
        arg=before,
        timeout=150_000,
    )
    shown = await page.get_attribute("#script-sections", "data-request-id")
    assert shown
    return shown


async def stored_script(service: Service, request_id: str) -> dict[str, Any]:
    """The script as the server stored it (it is stored just after the page receives it)."""
    path = f"/v1/rooms/{service.room.room_id}/outputs/script?limit=50"
    for _ in range(50):
        resp = await service.http.get(path, headers=service.auth())
        found: list[dict[str, Any]] = [s for s in resp.json() if s["request_id"] == request_id]
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"script {request_id} was never stored")


def sections_of(script: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(s["index"], s["kind"], s["text"]) for s in script["sections"]]


async def shown_sections(page: Page) -> list[tuple[int, str, str]]:
    rows = await page.locator("#script-sections li").evaluate_all(
        "ns => ns.map(n => [Number(n.dataset.index), n.dataset.kind,"
        " n.querySelector('.section-text').textContent])"
    )
    return [(i, kind, text) for i, kind, text in rows]


async def test_script_steering_rewrites_shortens_approves_and_restyles(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.console())
    await page.wait_for_selector("#conn[data-state=open]")
    await page.wait_for_selector('dd[data-health="llm"].ok', timeout=120_000)
    product = CATALOG.products[8]
    before = await page.get_attribute("#script-sections", "data-request-id")
    await page.select_option("#script-sku", product.sku)
    await page.select_option("#script-style", "energetic")
    await page.fill("#script-seconds", "60")
    await page.click("#script-go")
    first_id = await shown_script(page, before)
    first = await stored_script(service, first_id)
    assert first["sku"] == product.sku and first["base"] is None
    assert await shown_sections(page) == sections_of(first)
    labels = await page.locator("#script-sections .kind").all_text_contents()
    assert len(labels) == len(first["sections"]) and all(not label.isascii() for label in labels)
    middle = [s for s in first["sections"] if s["kind"] in ("point", "proof")]
    assert len(middle) > 2, f"too short a script to shorten: {first['sections']}"

    # Rewrite one selling point or proof: a new script, every other section word for word.
    target = middle[0]["index"]
    await page.click(f'#script-sections li[data-index="{target}"] button.rewrite')
    rewritten_id = await shown_script(page, first_id)
    rewritten = await stored_script(service, rewritten_id)
    assert rewritten["base"] == first_id and rewritten["sku"] == product.sku
    old = {i: text for i, _, text in sections_of(first)}
    new = {i: text for i, _, text in sections_of(rewritten)}
    assert new.keys() == old.keys()
    assert {i: t for i, t in new.items() if i != target} == {
        i: t for i, t in old.items() if i != target
    }
    assert await shown_sections(page) == sections_of(rewritten)

    # Shorten the rewritten script.
    await page.click("#script-shorten")
    short_id = await shown_script(page, rewritten_id)
    short = await stored_script(service, short_id)
    assert short["base"] == rewritten_id and short["sku"] == product.sku
    assert len(short["text"]) < len(rewritten["text"])
    assert await shown_sections(page) == sections_of(short)
    assert await page.text_content("#script-text") == short["text"]

    # Approve it: the mark shows once the server's script.approved reaches the page; withdraw.
    async with room_client(ws_url(service.url, service.room, "host")) as host:
        assert await page.locator("#script-approved").is_hidden()
        await page.click("#script-approve")
        approved = await host.expect("script.approved", timeout=15)
        assert isinstance(approved, ScriptApproved)
        assert (approved.request_id, approved.sku, approved.approved) == (
            short_id,
            product.sku,
            True,
        )
        await page.wait_for_selector("#script-approved:not([hidden])", timeout=10_000)
        assert await page.get_attribute("#script-approve", "aria-pressed") == "true"
        await screenshot(page, "console-script.png")
        await page.click("#script-approve")
        withdrawn = await host.expect("script.approved", timeout=15)
        assert isinstance(withdrawn, ScriptApproved)
        assert (withdrawn.request_id, withdrawn.approved) == (short_id, False)
        await page.wait_for_selector("#script-approved", state="hidden", timeout=10_000)

    # Another style: a fresh script of the same product, not an edit.
    await page.click('#script-restyle button[data-style="gentle"]')
    styled_id = await shown_script(page, short_id)
    styled = await stored_script(service, styled_id)
    assert (styled["sku"], styled["style"], styled["base"]) == (product.sku, "gentle", None)
    assert await shown_sections(page) == sections_of(styled)
    assert await page.get_attribute('#script-restyle [data-style="gentle"]', "aria-pressed") == (
        "true"
    )
    errors.check()


async def test_posted_frame_updates_the_stage_panel_with_boxes(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.console())
    await page.wait_for_selector("#conn[data-state=open]")
    cup = next(p for p in CATALOG.products if p.sku.startswith("HM-CUP"))
    frame = png(render_frame([cup.title.split()[0], f"直播价 ¥{cup.price - 30:g}"]))
    async with room_client(ws_url(service.url, service.room, "host")) as host:
        update: VisionUpdate | None = None
        for _ in range(4):  # the stage product settles after a few agreeing frames
            resp = await service.http.post(
                f"/v1/rooms/{service.room.room_id}/frames", content=frame, headers=service.auth()
            )
            assert resp.status_code == 202
            frame_id = resp.json()["frame_id"]
            while update is None or update.frame_id != frame_id:
                event = await host.expect("vision.update", timeout=60)
                assert isinstance(event, VisionUpdate)
                update = event
    assert update is not None and update.detections and update.stage.sku is not None
    canvas = page.locator(f'#frame[data-frame-id="{update.frame_id}"]')
    await canvas.wait_for(timeout=15_000)
    assert await canvas.get_attribute("data-boxes") == str(len(update.detections))
    # the panel shows the room's stage owner, which follows vision while nothing is pinned
    await page.wait_for_function(
        "sku => document.getElementById('stage-sku').textContent === sku", arg=update.stage.sku
    )
    assert await page.locator("#ocr li").all_text_contents() == update.ocr_lines
    assert await page.locator("#price-warning").is_visible() == (update.price_mismatch is not None)
    # Pinning from the console reaches the room as a host stage.set.
    async with room_client(ws_url(service.url, service.room, "host")) as host:
        other = CATALOG.products[0]
        await page.select_option("#pin-sku", other.sku)
        await page.click("#pin")
        pinned = await host.expect("stage.set", timeout=10)
        assert getattr(pinned, "sku", None) == other.sku
        await page.wait_for_selector("#stage-pinned:not([hidden])")
        await page.click("#unpin")
        assert getattr(await host.expect("stage.set", timeout=10), "sku", "?") is None
    await screenshot(page, "console.png")
    errors.check()


async def test_dropped_socket_reconnects_and_catches_up_without_duplicates(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.console(service.proxy.url))
    await page.wait_for_selector("#conn[data-state=open]")
    products = [p for p in CATALOG.products if p.stock > 0][5:8]
    async with room_client(ws_url(service.url, service.room, "viewer")) as viewer:
        before_id, before = await ask(viewer, f"{products[0].title}多少钱？", "fan-1")
        await line_shows(page, before_id, before)
        await service.proxy.cut()
        await page.wait_for_selector("#conn[data-state=reconnecting]")
        missed = [await ask(viewer, f"{p.title}多少钱？", "fan-1") for p in products[1:]]
        await service.proxy.start()
    await page.wait_for_function("() => window.lcaConsole.catchUps >= 2", timeout=30_000)
    for chat_id, answer in [(before_id, before), *missed]:
        await line_shows(page, chat_id, answer)
        assert await page.locator(f'li[data-chat-id="{chat_id}"]').count() == 1
    ids = await page.locator("#chat li").evaluate_all("ns => ns.map(n => n.dataset.chatId)")
    assert len(ids) == len(set(ids))
    errors.check()


def bad_csv() -> tuple[bytes, list[int]]:
    """The demo catalog as CSV with two broken rows; returns the file and their row numbers."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["sku", "title", "price", "stock", "category"])
    writer.writeheader()
    broken = [3, 5]
    for row, p in enumerate(CATALOG.products[:6], start=1):
        price = "free" if row == broken[0] else f"{p.price}"
        stock = "-4" if row == broken[1] else str(p.stock)
        writer.writerow(
            {"sku": p.sku, "title": p.title, "price": price, "stock": stock, "category": p.category}
        )
    return out.getvalue().encode(), broken


async def test_catalog_upload_shows_row_errors_and_applies_good_files(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.console())
    await page.wait_for_selector("#conn[data-state=open]")
    path = f"/v1/rooms/{service.room.room_id}/catalog"
    before = (await service.http.get(path, headers=service.auth())).json()
    body, broken = bad_csv()
    await page.set_input_files(
        "#catalog-file", {"name": "bad.csv", "mimeType": "text/csv", "buffer": body}
    )
    await page.wait_for_selector("#upload-errors:not([hidden])")
    rows = await page.locator("#upload-errors tbody tr").evaluate_all(
        "ns => ns.map(n => n.dataset.row)"
    )
    assert sorted({int(r) for r in rows}) == broken
    assert (await service.http.get(path, headers=service.auth())).json() == before

    good = json.dumps(before, ensure_ascii=False).encode()
    await page.set_input_files(
        "#catalog-file", {"name": "good.json", "mimeType": "application/json", "buffer": good}
    )
    await page.wait_for_selector("#upload-result.ok")
    assert str(len(before["products"])) in (await page.text_content("#upload-result") or "")
    assert await page.locator("#upload-errors").is_hidden()
    errors.check()


async def test_english_toggle(service: Service, browser: Browser) -> None:
    page, errors = await open_page(browser, service.console())
    zh = await page.text_content("h1 [data-i18n=title]")
    await page.click("#lang")
    assert await page.get_attribute("html", "lang") == "en"
    en = await page.text_content("h1 [data-i18n=title]")
    assert en and en != zh and en.isascii()
    await page.click("#lang")
    assert await page.text_content("h1 [data-i18n=title]") == zh
    errors.check()


async def test_console_refuses_a_viewer_token(service: Service) -> None:
    room = service.room
    resp = await service.http.get(f"/console/{room.room_id}?token={room.tokens['viewer']}")
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"


async def test_compliance_rewrite_shows_in_the_audit(service: Service, browser: Browser) -> None:
    """A catalog FAQ that boasts: the answer is rewritten, and the console shows before/after."""
    room = await create_room(service.http, title="合规测试")
    product = CATALOG.products[0].model_copy(
        update={"faq": [FaqItem(q="这款茶值得买吗", a="这是全网最低价，品质最好的一款。")]}
    )
    host = {"Authorization": f"Bearer {room.tokens['host']}"}
    put = await service.http.put(
        f"/v1/rooms/{room.room_id}/catalog",
        json={"products": [product.model_dump(mode="json")]},
        headers=host,
    )
    assert put.status_code == 200
    page, errors = await open_page(
        browser, f"{service.url}/console/{room.room_id}?token={room.tokens['host']}"
    )
    await page.wait_for_selector("#conn[data-state=open]")
    async with room_client(ws_url(service.url, room, "viewer")) as viewer:
        await ask(viewer, f"{product.title.split()[0]}这款茶值得买吗？", "tea-fan")
    stored = (
        await service.http.get(f"/v1/rooms/{room.room_id}/outputs/compliance", headers=host)
    ).json()
    assert stored, "the boastful answer was not rewritten"
    changes = [c for entry in stored for c in entry["changes"]]
    await page.wait_for_selector("#audit del", timeout=10_000)
    assert await page.locator("#audit del").all_text_contents() == [c["before"] for c in changes]
    assert await page.locator("#audit ins").all_text_contents() == [
        c["after"] or "∅" for c in changes
    ]
    errors.check()


async def test_recommendations_sent_are_listed(service: Service, browser: Browser) -> None:
    page, errors = await open_page(browser, service.console())
    await page.wait_for_selector("#conn[data-state=open]")
    async with room_client(ws_url(service.url, service.room, "viewer")) as viewer:
        await viewer.chat("推荐一个送妈妈的礼物，200元以内")
        rec = await viewer.expect("recommendation", timeout=60)
    assert isinstance(rec, Recommendation) and rec.items
    item = page.locator(f'#recs li[data-rec-id="{rec.id}"]')
    await item.wait_for(timeout=10_000)
    listed = await item.locator("ul li").all_text_contents()
    assert [text.split(" ¥")[0] for text in listed] == [i.title for i in rec.items]
    errors.check()


async def test_shop_information_is_shown_edited_and_answered_from(
    service: Service, browser: Browser
) -> None:
    page, errors = await open_page(browser, service.console())
    await page.wait_for_selector("#conn[data-state=open]")
    before = (await service.http.get(shop_path(service), headers=service.auth())).json()
    await page.wait_for_function(
        "text => document.getElementById('shop-how_to_buy').value === text",
        arg=before["how_to_buy"],
    )
    new = "点左下角小黄车，按主播报的链接号拍下，今晚付款有效。"
    await page.fill("#shop-how_to_buy", new)
    await page.click("#shop-form button[type=submit]")
    await page.wait_for_selector("#shop-result.ok")
    after = (await service.http.get(shop_path(service), headers=service.auth())).json()
    assert after == before | {"how_to_buy": new}
    async with room_client(ws_url(service.url, service.room, "viewer")) as viewer:
        _, answer = await ask(viewer, "宝宝们这个怎么下单呀", "buyer-shop")
    assert new in answer.text and answer.source == "shop"
    await service.http.put(shop_path(service), json=before, headers=service.auth())
    errors.check()


def shop_path(service: Service) -> str:
    return f"/v1/rooms/{service.room.room_id}/shop"
