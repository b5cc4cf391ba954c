"""The push's picture: the product card and the current subtitle, drawn with Pillow."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

# Where Debian puts the CJK fonts the project uses (fonts-wqy-zenhei; Noto CJK as a second).
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
BACKGROUND = (18, 20, 28)
PANEL = (34, 38, 52)
ACCENT = (255, 94, 58)
TEXT = (245, 245, 245)
MUTED = (150, 155, 170)
# Latin words and numbers wrap whole; any other character may end a line.
_TOKENS = re.compile(r"[A-Za-z0-9.,%¥$'+\-]{1,24}|\s+|.")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Scene:
    """Everything the picture shows; equal scenes draw the same frame."""

    title: str = ""
    price: float | None = None
    list_price: float | None = None
    point: str = ""
    stock: int | None = None
    subtitle: str = ""
    language: str = "zh"


def find_font(configured: Path | None) -> Path | None:
    for path in (configured, *FONT_PATHS):
        if path is not None and path.is_file():
            return path
    return None


class CardRenderer:
    """Draws a ``Scene`` at the stream's size; sizes scale with the height."""

    def __init__(self, width: int, height: int, font_path: Path | None) -> None:
        self.width, self.height = width, height
        self.margin = round(height * 0.06)
        path = find_font(font_path)
        if path is None:
            log.warning(
                "no CJK font found (apt-get install fonts-wqy-zenhei): Chinese shows as boxes"
            )

        def font(share: float) -> Font:
            size = max(10, round(height * share))
            if path is None:
                return ImageFont.load_default(size)
            return ImageFont.truetype(str(path), size)

        self.title_font, self.price_font = font(0.075), font(0.14)
        self.small_font, self.point_font, self.sub_font = font(0.045), font(0.055), font(0.06)

    def render(self, scene: Scene) -> Image.Image:
        image = Image.new("RGB", (self.width, self.height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        m, inner = self.margin, self.width - 2 * self.margin
        draw.rectangle((0, 0, self.width, round(self.height * 0.012)), fill=ACCENT)
        y = m
        if scene.title:
            for line in wrap(draw, scene.title, self.title_font, inner, 2):
                draw.text((m, y), line, font=self.title_font, fill=TEXT)
                y += _line_height(self.title_font)
            y += m // 2
        if scene.price is not None:
            price = f"¥{scene.price:g}"
            draw.text((m, y), price, font=self.price_font, fill=ACCENT)
            x = m + draw.textlength(price, font=self.price_font) + m // 2
            if scene.list_price is not None and scene.list_price > scene.price:
                self._struck(draw, (x, y + _line_height(self.price_font) // 2), scene.list_price)
            y += _line_height(self.price_font) + m // 3
        if scene.point:
            for line in wrap(draw, scene.point, self.point_font, inner, 2):
                draw.text((m, y), line, font=self.point_font, fill=TEXT)
                y += _line_height(self.point_font)
        if scene.stock is not None:
            stock = f"库存 {scene.stock}" if scene.language == "zh" else f"{scene.stock} in stock"
            draw.text((m, y + m // 3), stock, font=self.small_font, fill=MUTED)
        if scene.subtitle:
            self._subtitle(draw, scene.subtitle)
        return image

    def _struck(self, draw: ImageDraw.ImageDraw, at: tuple[float, int], list_price: float) -> None:
        text = f"¥{list_price:g}"
        x, middle = at
        top = middle - _line_height(self.small_font) // 2
        draw.text((x, top), text, font=self.small_font, fill=MUTED)
        width = draw.textlength(text, font=self.small_font)
        draw.line((x, middle, x + width, middle), fill=MUTED, width=max(1, self.height // 240))

    def _subtitle(self, draw: ImageDraw.ImageDraw, text: str) -> None:
        lines = wrap(draw, text, self.sub_font, self.width - 4 * self.margin, 2)
        height = _line_height(self.sub_font)
        top = self.height - self.margin - height * len(lines) - self.margin // 2
        draw.rectangle((0, top, self.width, self.height), fill=PANEL)
        y = top + self.margin // 3
        for line in lines:
            x = (self.width - draw.textlength(line, font=self.sub_font)) / 2
            draw.text((x, y), line, font=self.sub_font, fill=TEXT)
            y += height


def wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int, lines: int) -> list[str]:
    """At most ``lines`` lines no wider than ``width``; the last ends in … when text is left."""
    out: list[str] = []
    current = ""
    for token in _TOKENS.findall(" ".join(text.split())):
        if draw.textlength(current + token, font=font) <= width or not current:
            current += token
            continue
        out.append(current.rstrip())
        current = token.lstrip()
        if len(out) == lines:
            break
    else:
        if current:
            out.append(current)
        return out
    last = out[-1]
    while last and draw.textlength(last + "…", font=font) > width:
        last = last[:-1]
    out[-1] = last + "…"
    return out


def _line_height(font: Font) -> int:
    top, bottom = font.getbbox("国Ag")[1::2]
    return round((bottom - top) * 1.35)
