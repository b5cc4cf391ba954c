"""Which catalog product is on stage: OCR text against titles/attributes, image embeddings."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from assistant.catalog import Product
from assistant.text import bigrams, normalise
from vision.classify import F32, similarity
from vision.errors import VisionError
from vision.image import b64decode, data_url_bytes, decode_image
from vision.settings import VisionSettings

_PRICE = re.compile(
    r"(?:[¥￥]|RMB|CNY|价|price)\s*[:：]?\s*(\d{1,7}(?:\.\d{1,2})?)|(\d{1,7}(?:\.\d{1,2})?)\s*元",
    re.IGNORECASE,
)


def screen_prices(lines: list[str]) -> list[float]:
    out: list[float] = []
    for line in lines:
        for m in _PRICE.finditer(unicodedata.normalize("NFKC", line)):
            value = m.group(1) or m.group(2)
            if value:
                out.append(float(value))
    return out


def load_product_image(image: str, settings: VisionSettings) -> bytes:
    """Product.image is a path under the data dir, a data: URL, or bare base64."""
    if image.startswith("data:"):
        return data_url_bytes(image, settings)
    root = settings.data_dir.resolve()
    candidate = Path(image)
    if candidate.parts and candidate.parts[0] == settings.data_dir.name:
        candidate = Path(*candidate.parts[1:])
    path = (root / candidate).resolve()
    if path.is_relative_to(root) and path.is_file():
        data = path.read_bytes()
        if len(data) > settings.max_image_bytes:
            raise VisionError(f"product image {image!r} is too large")
        return data
    return b64decode(image, settings)


@dataclass
class ProductRef:
    product: Product
    grams: list[frozenset[str]]  # one set per title (zh, en)
    attr_grams: frozenset[str]
    embedding: F32 | None = None


@dataclass
class Candidate:
    sku: str | None
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


class CatalogMatcher:
    """Scores every product; build it (embeddings included) in a worker thread."""

    def __init__(self, products: list[Product], settings: VisionSettings, embed: object) -> None:
        self.settings = settings
        self.refs: list[ProductRef] = []
        for p in products:
            titles = [bigrams(normalise(t)) for t in (p.title, p.title_en) if t]
            attrs = " ".join(str(v) for v in p.attributes.values())
            ref = ProductRef(p, [g for g in titles if g], bigrams(normalise(attrs)))
            if p.image and callable(embed):
                try:
                    rgb = decode_image(load_product_image(p.image, settings), settings)
                    ref.embedding = embed(rgb)
                except VisionError:
                    ref.embedding = None  # an unreadable image only disables image matching
            self.refs.append(ref)

    @property
    def has_images(self) -> bool:
        return any(r.embedding is not None for r in self.refs)

    def get(self, sku: str) -> Product | None:
        return next((r.product for r in self.refs if r.product.sku == sku), None)

    def match(self, ocr_lines: list[str], embeddings: list[F32]) -> Candidate:
        text = bigrams(normalise(" ".join(ocr_lines)))
        best = Candidate(None, 0.0)
        for ref in self.refs:
            text_score = max((len(g & text) / len(g) for g in ref.grams), default=0.0)
            if ref.attr_grams and text_score > 0:
                bonus = len(ref.attr_grams & text) / len(ref.attr_grams)
                text_score = min(1.0, text_score + 0.2 * bonus)
            image_score = 0.0
            if ref.embedding is not None and embeddings:
                sim = max(similarity(e, ref.embedding)[0] for e in embeddings)
                floor = self.settings.embed_min_similarity
                image_score = max(0.0, (sim - floor) / (100.0 - floor)) if sim >= floor else 0.0
            conf = 1.0 - (1.0 - text_score) * (1.0 - image_score)
            best.scores[ref.product.sku] = round(conf, 4)
            if conf > best.confidence:
                best.sku, best.confidence = ref.product.sku, conf
        if best.confidence < self.settings.stage_min_confidence:
            best.sku = None
        return best

    def price_mismatch(self, sku: str, ocr_lines: list[str]) -> tuple[float, float] | None:
        """(screen price, catalog price) when prices are on screen and none is the product's."""
        product = self.get(sku)
        prices = screen_prices(ocr_lines)
        if product is None or not prices:
            return None
        known = [product.price] + ([product.list_price] if product.list_price else [])
        tol = self.settings.price_tolerance
        if any(abs(p - k) <= tol for p in prices for k in known):
            return None
        return prices[0], product.price
