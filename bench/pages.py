"""The web pages in Debian's chromium: answer-to-screen latency, gapless audio, screenshots."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw, ImageFont
from playwright.async_api import Browser, Page, async_playwright
from skimage import data
from websockets.asyncio.client import connect

from bench.common import RESULTS, median, pct, subprocess_service, write_result
from tests.server import free_port
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
CATALOG = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "demo_catalog.json").read_text()
)


async def answer_latency(base: str, room: dict[str, Any], page: Page, n: int) -> dict[str, Any]:
    """Send questions as a viewer; time the answer at the viewer's socket and on the console."""
    ws = base.replace("http", "ws", 1) + f"/v1/rooms/{room['room_id']}/ws"
    raw: list[float] = []
    screen: list[float] = []
    products = [p for p in CATALOG["products"] if p["stock"] > 0]
    for i in range(n):
        # One viewer per question, so the per-viewer rate limit never shapes the numbers.
        async with connect(f"{ws}?token={room['tokens']['viewer']}") as viewer:
            text = f"{products[i % len(products)]['title']}现在多少钱呀{i}？"
            started = time.perf_counter()
            body = {"type": "chat", "user": {"id": f"bench-{i}", "name": f"观众{i}"}, "text": text}
            await viewer.send(json.dumps(body, ensure_ascii=False))
            chat_id = ""
            while True:
                event = json.loads(await viewer.recv())
                if event["type"] == "chat.accepted":
                    chat_id = event["chat_id"]
                if event["type"] == "answer" and event["chat_id"] == chat_id:
                    raw.append(time.perf_counter() - started)
                    break
            selector = f'li[data-chat-id="{chat_id}"][data-status="answered"]'
            await page.wait_for_selector(selector, timeout=30_000)
            screen.append(time.perf_counter() - started)
    ms = [v * 1000 for v in raw]
    shown = [v * 1000 for v in screen]
    return {
        "questions": n,
        "viewer_socket_ms": {"p50": median(ms), "p95": pct(ms, 0.95)},
        "console_screen_ms": {"p50": median(shown), "p95": pct(shown, 0.95)},
        "ratio_p50": median(shown) / median(ms),
    }


async def overlay_playback(page: Page, seconds: float) -> dict[str, Any]:
    start = await page.evaluate("() => ({...window.lcaOverlay})")
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    end = await page.evaluate("() => ({...window.lcaOverlay})")
    wall = time.perf_counter() - t0
    scheduled = end["scheduledSeconds"] - start["scheduledSeconds"]
    return {
        "wall_s": round(wall, 2),
        "audio_scheduled_s": round(scheduled, 2),
        "audio_per_wall_second": round(scheduled / wall, 3),
        "chunks": end["chunksScheduled"] - start["chunksScheduled"],
        "dropped": end["chunksDropped"] - start["chunksDropped"],
        "underruns": end["underruns"] - start["underruns"],
        "subtitles": end["subtitlesShown"] - start["subtitlesShown"],
    }


def stage_frame(title: str, price: float) -> bytes:
    """A 1280x720 frame: a real cup photo and the product's name and price as a host shows them."""
    img = Image.new("RGB", (1280, 720), (245, 243, 238))
    cup = Image.fromarray(data.coffee())  # type: ignore[no-untyped-call]
    img.paste(cup.resize((560, 373)), (40, 170))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 44)
    for i, line in enumerate((title, f"直播价 ¥{price:g}")):
        draw.text((660, 180 + i * 90), line, font=font, fill=(180, 20, 20) if i else (20, 20, 20))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


async def ask_for_gift(base: str, room: dict[str, Any], page: Page) -> None:
    ws = base.replace("http", "ws", 1) + f"/v1/rooms/{room['room_id']}/ws"
    async with connect(f"{ws}?token={room['tokens']['viewer']}") as viewer:
        body = {
            "type": "chat",
            "user": {"id": "mum", "name": "小丽"},
            "text": "推荐个送妈妈的礼物，200以内",
        }
        await viewer.send(json.dumps(body, ensure_ascii=False))
        await page.wait_for_selector("#recs li", timeout=60_000)


async def show_frame(base: str, room: dict[str, Any], page: Page) -> None:
    cup = next(p for p in CATALOG["products"] if p["sku"].startswith("HM-CUP"))
    frame = stage_frame(cup["title"].split()[0], cup["price"] - 30)
    auth = {"Authorization": f"Bearer {room['tokens']['host']}"}
    async with httpx.AsyncClient(base_url=base, headers=auth) as http:
        for _ in range(3):
            resp = await http.post(f"/v1/rooms/{room['room_id']}/frames", content=frame)
            resp.raise_for_status()
            await asyncio.sleep(2.5)
    await page.wait_for_selector("#frame[data-boxes]", timeout=60_000)


def composite(overlay: Path, out: Path) -> None:
    """The overlay is transparent; for the README, lay it over a dark studio-like gradient."""
    with Image.open(overlay) as top:
        layer = top.convert("RGBA")
    w, h = layer.size
    background = Image.linear_gradient("L").resize((w, h)).convert("RGBA")
    tint = Image.new("RGBA", (w, h), (60, 40, 90, 255))
    base = Image.blend(background, tint, 0.7)
    Image.alpha_composite(base, layer).convert("RGB").save(out)


async def run(browser: Browser, base: str, rooms: dict[str, Any], args: argparse.Namespace) -> None:
    host, anchor = rooms["host"], rooms["anchor"]
    console = await browser.new_page(viewport={"width": 1600, "height": 1000})
    await console.goto(f"{base}/console/{host['room_id']}?token={host['tokens']['host']}")
    await console.wait_for_selector("#conn[data-state=open]")
    latency = await answer_latency(base, host, console, args.questions)
    await ask_for_gift(base, host, console)
    await show_frame(base, host, console)
    await console.click("#script-go")
    await console.wait_for_selector("#script-state[data-state=done]", timeout=120_000)
    await console.screenshot(path=str(RESULTS / "console.png"))

    overlay = await browser.new_page(viewport={"width": 1280, "height": 720})
    await overlay.goto(f"{base}/overlay/{anchor['room_id']}?token={anchor['tokens']['anchor']}")
    await overlay.wait_for_function("() => window.lcaOverlay.chunksScheduled > 0", timeout=60_000)
    playback = await overlay_playback(overlay, args.seconds)
    shot = Path(tempfile.mkdtemp()) / "overlay.png"
    await overlay.screenshot(path=str(shot), omit_background=True)
    composite(shot, RESULTS / "overlay.png")
    for name, value in (("console answer", latency), ("overlay playback", playback)):
        print(name, json.dumps(value, ensure_ascii=False))
    write_result("pages", {"answer_latency": latency, "overlay_playback": playback})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    store = Path(tempfile.mkdtemp()) / "lca.sqlite3"
    env = {
        "LCA_SERVER__PORT": str(port),
        "LCA_STORE__PATH": str(store),
        "LCA_CAPABILITIES": '["vision", "brain", "recommend", "avatar"]',
        "LCA_LLM__BACKEND": "none",  # template scripts: the pages, not the model, are measured
    }
    async with subprocess_service(["-m", "assistant"], port, env) as base:
        rooms = json.loads((store.parent / "demo_rooms.json").read_text())
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).status_code == 200
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                await run(browser, base, rooms, args)
            finally:
                await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
