"""The console's platform connectors panel in Debian's chromium: a relay started from the form,
Douyin chat and gifts posted to it by a capture tool, its status, stop, and refused specs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Dialog, Page, expect

from assistant.rooms import RoomCreated
from assistant.untrusted import display_name
from tests.conftest import catalog_brain_settings, demo_room
from tests.server import serve
from tests.web.conftest import PageErrors, open_page, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
MARKUP = "<img src=x onerror=alert(1)>"
DEAD_STREAM = "rtmp://127.0.0.1:9/live/test"  # the discard port: nothing listens there


@dataclass
class Service:
    url: str
    room: RoomCreated
    http: httpx.AsyncClient

    def console(self) -> str:
        return f"{self.url}/console/{self.room.room_id}?token={self.room.tokens['host']}"

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.room.tokens['host']}"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    # The catalog's own answers, no model: the panel needs a room, not a brain.
    settings = catalog_brain_settings(tmp_path_factory.mktemp("connectors"))
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield Service(url, await demo_room(http), http)


def douyin(kind: int, msg_id: int, user_id: int, nickname: str, **data: Any) -> dict[str, Any]:
    """One DouyinBarrageGrab pack: ``Data`` is the message serialised as a JSON string."""
    message = {"MsgId": msg_id, "User": {"Id": user_id, "Nickname": nickname}, **data}
    return {"Type": kind, "Data": json.dumps(message, ensure_ascii=False)}


async def opened(browser: Browser, service: Service) -> tuple[Page, PageErrors, list[str]]:
    page, errors = await open_page(browser, service.console())
    dialogs: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.wait_for_selector("#conn[data-state=open]")
    return page, errors, dialogs


async def test_a_relay_started_in_the_console_shows_chat_gifts_status_and_stops(
    service: Service, browser: Browser
) -> None:
    page, errors, dialogs = await opened(browser, service)
    await expect(page.locator("#connectors-empty")).to_be_visible()
    await page.select_option("#connector-kind", "relay")
    await page.select_option('#connector-form select[name="platform"]', "douyin")
    await page.click('#connector-form button[type="submit"]')
    await page.wait_for_selector("#relay-info:not([hidden])", timeout=10_000)
    relay_url = await page.input_value("#relay-url")
    relay_token = await page.input_value("#relay-token")
    prefix = f"{service.url}/v1/rooms/{service.room.room_id}/connectors/relay-"
    assert relay_url.startswith(prefix) and relay_url.endswith("/relay"), relay_url
    assert len(relay_token) >= 24
    cid = relay_url.split("/connectors/")[1].split("/")[0]
    row = page.locator(f'li.connector[data-connector-id="{cid}"]')
    await expect(row).to_be_visible()
    await expect(page.locator("#connectors-empty")).to_be_hidden()

    # A capture tool posts two chat lines and two gifts, one of each with markup in it.
    batch = [
        douyin(1, 7301, 88, "小王", Content="这个多少钱"),
        douyin(5, 7302, 89, "阿花", GiftName="小心心", GroupCount=3, DiamondCount=1),
        douyin(1, 7303, 90, MARKUP, Content="发什么快递"),
        douyin(5, 7304, 91, "<b>阿草</b>", GiftName=MARKUP, GiftCount=1, DiamondCount=0),
    ]
    relay = {"Authorization": f"Bearer {relay_token}"}
    posted = await service.http.post(relay_url, json=batch, headers=relay)
    assert posted.status_code == 200, posted.text
    assert posted.json() == {"accepted": 4, "dropped": 0, "errors": []}

    # The chat lines land in the chat panel like any viewer's.
    line = page.locator("#chat li.line").filter(has=page.locator(".text", has_text="这个多少钱"))
    await expect(line.locator(".name")).to_have_text("小王", timeout=10_000)
    marked = page.locator("#chat li.line").filter(has=page.locator(".text", has_text="发什么快递"))
    # A name like this one is replaced by a neutral handle before anything shows it.
    await expect(marked.locator(".name")).to_have_text(display_name(MARKUP, "douyin:90"))

    # The gifts land in the activity list, newest first; markup stays text.
    gifts = page.locator("#activity li[data-kind=gift]")
    await expect(gifts).to_have_count(2, timeout=10_000)
    await expect(gifts.nth(1)).to_contain_text("阿花 送出 小心心 ×3")
    await expect(gifts.nth(0).locator(".name")).to_have_text("<b>阿草</b>")
    await expect(gifts.nth(0)).to_contain_text(f"送出 {MARKUP}")
    assert await page.locator("#connectors-panel img, #connectors-panel b, #chat img").count() == 0

    # The row follows the health poll: connected, everything received.
    await page.wait_for_function(
        """cid => {
            const row = document.querySelector(`li.connector[data-connector-id="${cid}"]`);
            const received = row?.querySelector("[data-stat=received]")?.textContent || "";
            return row?.dataset.state === "connected" && Number(received.match(/\\d+/)?.[0]) >= 4;
        }""",
        arg=cid,
        timeout=10_000,
    )
    state = row.locator('[data-role="state"]')
    assert await state.get_attribute("class") == "badge state ok"
    await expect(state).to_have_text("已连接")
    await expect(row).to_contain_text("relay for douyin")
    await expect(row).not_to_contain_text("null")
    await page.click("#lang")
    await expect(state).to_have_text("connected")
    await expect(gifts.nth(1)).to_contain_text("阿花 sent 小心心 ×3")
    await page.click("#lang")
    await screenshot(page, "console-connectors.png")

    # Stop: the row shows stopped, then leaves with the next poll; the relay refuses its token.
    await row.locator("button.stop").click()
    await expect(row).to_have_attribute("data-state", "stopped")
    await row.wait_for(state="detached", timeout=10_000)
    await expect(page.locator("#connectors-empty")).to_be_visible()
    gone = await service.http.post(relay_url, json=batch[:1], headers=relay)
    assert gone.status_code == 401
    listed = await service.http.get(
        f"/v1/rooms/{service.room.room_id}/connectors", headers=service.auth()
    )
    assert listed.json() == []
    assert dialogs == []
    errors.check()


async def start_failure(page: Page, kind: str, **fields: str) -> str:
    """Fill the form for ``kind`` and submit it; the panel's error line, once it shows."""
    await page.select_option("#connector-kind", kind)
    for name, value in fields.items():
        await page.fill(f'#connector-form fieldset[data-kind="{kind}"] [name="{name}"]', value)
    result = page.locator("#connector-result")
    await result.evaluate("n => n.replaceChildren()")
    await page.click('#connector-form button[type="submit"]')
    await expect(result).to_have_class("bad")
    await expect(result).to_contain_text("启动失败")
    return await result.text_content() or ""


async def test_refused_specs_show_their_error_in_the_panel(
    service: Service, browser: Browser
) -> None:
    page, errors, dialogs = await opened(browser, service)
    # A URL scheme FFmpeg must never open (422 from the connector).
    shown = await start_failure(page, "stream", url="pipe:0")
    assert "unsupported stream URL scheme 'pipe'" in shown
    # A file of the service's machine (403 unless the operator allows local sources).
    shown = await start_failure(page, "stream", url="/etc/passwd")
    assert "ALLOW_LOCAL_SOURCES" in shown
    # Fields that fail validation (422 with details): each is named.
    shown = await start_failure(
        page, "twitch", client_id="app", access_token="tok en", broadcaster_id="abc"
    )
    assert "access_token" in shown and "broadcaster_id" in shown and "bot_user_id" in shown
    assert await page.locator("#relay-info").is_hidden()
    assert await page.locator("li.connector").count() == 0
    listed = await service.http.get(
        f"/v1/rooms/{service.room.room_id}/connectors", headers=service.auth()
    )
    assert listed.json() == []

    # A stream that starts but cannot connect: its row says so, with the error, until removed.
    await page.select_option("#connector-kind", "stream")
    await page.fill('#connector-form fieldset[data-kind="stream"] [name="url"]', DEAD_STREAM)
    await page.check('#connector-form fieldset[data-kind="stream"] [name="keyframes_only"]')
    await page.click('#connector-form button[type="submit"]')
    await expect(page.locator("#connector-result")).to_have_class("ok")
    row = page.locator("li.connector")
    await expect(row).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    state = row.locator('[data-role="state"]')
    assert await state.get_attribute("class") == "badge state warn"
    await expect(row.locator('[data-role="error"]')).not_to_be_empty()
    reconnects = await row.locator("[data-stat=reconnects]").inner_text()
    assert int(reconnects.split()[-1]) >= 1, reconnects
    await row.locator("button.stop").click()
    await row.wait_for(state="detached", timeout=10_000)
    assert dialogs == []
    errors.check()
