"""Fixtures: the real models (installed once into the model cache), real images, a bare app."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from assistant.access import Limiter
from assistant.settings import LimitSettings
from assistant.store import SqliteStore
from vision.api import VisionAccess, build_router
from vision.backends import Models
from vision.engine import VisionEngine
from vision.install import install
from vision.settings import VisionSettings

Img = NDArray[np.uint8]


def sk(name: str) -> Img:
    """A skimage.data sample image as RGB uint8."""
    out: Img = np.ascontiguousarray(getattr(data, name)())
    return out


FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def model_dir() -> Path:
    root = Path(os.environ.get("LCA_MODEL_DIR", "~/.cache/live-commerce")).expanduser()
    return root / "vision"


@pytest.fixture(scope="session")
def vision_settings() -> VisionSettings:
    install(model_dir(), log=False)  # idempotent: a hash check when the cache is there
    return VisionSettings(model_dir=model_dir(), workers=2, stable_passes=2)


@pytest.fixture(scope="session")
def models(vision_settings: VisionSettings) -> Models:
    return Models(vision_settings, model_dir())


def png(rgb: Img) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def images() -> dict[str, Img]:
    return {n: sk(n) for n in ("astronaut", "coffee", "chelsea")}


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    pytest.fail("no CJK font: apt-get install -y fonts-wqy-zenhei")


def render_frame(lines: list[str], *, size: tuple[int, int] = (1280, 720)) -> Img:
    """A 1280x720 stream frame with the coffee photo on the left and text lines on the right."""
    img = Image.new("RGB", size, (245, 243, 238))
    coffee = Image.fromarray(sk("coffee")).resize((560, 373))
    img.paste(coffee, (40, 170))
    draw = ImageDraw.Draw(img)
    font = cjk_font(44)
    for i, line in enumerate(lines):
        draw.text((660, 180 + i * 90), line, font=font, fill=(180, 20, 20) if i else (20, 20, 20))
    return np.asarray(img)


def open_app(engine: VisionEngine, store_path: Path) -> FastAPI:
    """A bare app with the vision router, anonymous access on and no rate limit to speak of:
    the contract tests are about the models' requests, not about access."""
    settings = engine.settings.model_copy(update={"anonymous": True})
    limiter = Limiter(LimitSettings(vision_per_token="1000000/second"), "")
    app = FastAPI()
    app.include_router(
        build_router(engine, VisionAccess(settings, SqliteStore(store_path), limiter))
    )
    return app
