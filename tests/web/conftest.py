"""Browser fixtures: Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # OBS's browser source plays sound without a click; so must the test browser.
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(os.environ.get("LCA_TEST_ARTIFACTS", "var/test-artifacts"))


def _check_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: make sysdeps (apt-get install chromium)")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    _check_chromium()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


class PageErrors:
    """Uncaught script errors on a page: any one fails the test that opened it."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def check(self) -> None:
        assert self.errors == []


async def open_page(browser: Browser, url: str, **viewport: int) -> tuple[Page, PageErrors]:
    size = {"width": viewport.get("width", 1600), "height": viewport.get("height", 1000)}
    page = await browser.new_page(viewport=size)  # type: ignore[arg-type]
    errors = PageErrors(page)
    await page.goto(url)
    return page, errors


def check_not_blank(path: Path, *, min_colours: int = 16) -> None:
    """A real render has text and shapes: many colours, and on a transparent page, ink."""
    with Image.open(path) as img:
        rgba = img.convert("RGBA")
        colours = rgba.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) >= min_colours, f"{path} looks blank"
        alpha = rgba.getchannel("A")
        assert alpha.getbbox() is not None, f"{path} is fully transparent"


async def screenshot(page: Page, name: str, *, transparent: bool = False) -> Path:
    """Save a screenshot under the test artefacts and check that something was drawn."""
    path = ARTIFACTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), omit_background=transparent)
    check_not_blank(path)
    return path
