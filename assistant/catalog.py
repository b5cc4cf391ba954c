"""The catalog product schema (DESIGN.md §3) and a validated, atomic catalog."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FaqItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=500)
    a: str = Field(min_length=1, max_length=2000)


class Product(BaseModel):
    """One product as hosts upload it; prices are CNY."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    title: str = Field(min_length=1, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    price: float = Field(gt=0, le=10_000_000)
    list_price: float | None = Field(default=None, gt=0, le=10_000_000)
    stock: int = Field(ge=0)
    # The cart link number viewers are told to look for (小黄车 N号链接).
    link: int | None = Field(default=None, ge=0, le=100_000)
    category: str = Field(min_length=1, max_length=64)
    attributes: dict[str, str | float | int] = Field(default_factory=dict)
    selling_points: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=5000)
    faq: list[FaqItem] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=30)
    image: str | None = Field(default=None, max_length=8_000_000)

    @field_validator("attributes")
    @classmethod
    def _attribute_keys(cls, value: dict[str, str | float | int]) -> dict[str, str | float | int]:
        if len(value) > 50:
            raise ValueError("at most 50 attributes")
        return value


def product_text(product: Product) -> str:
    """The text a product is embedded as: titles, category, attributes, selling points, tags."""
    parts = [product.title]
    if product.title_en:
        parts.append(product.title_en)
    parts.append(product.category)
    parts += [f"{k} {v}" for k, v in product.attributes.items()]
    parts += product.selling_points
    parts += product.tags
    return " ; ".join(p.strip() for p in parts if str(p).strip())


class ShopInfo(BaseModel):
    """The room's shop facts viewers ask about: how to order, shipping, returns, after-sales."""

    model_config = ConfigDict(extra="forbid")

    how_to_buy: str = Field(default="", max_length=1000)
    shipping: str = Field(default="", max_length=1000)
    returns: str = Field(default="", max_length=1000)
    after_sales: str = Field(default="", max_length=1000)
    invoice: str = Field(default="", max_length=1000)
    payment: str = Field(default="", max_length=1000)


class Catalog(BaseModel):
    """A room's whole catalog and shop facts; SKUs are unique, and it is replaced as one unit."""

    model_config = ConfigDict(extra="forbid")

    products: list[Product] = Field(default_factory=list, max_length=10_000)
    shop: ShopInfo = Field(default_factory=ShopInfo)

    @field_validator("products")
    @classmethod
    def _unique_skus(cls, value: list[Product]) -> list[Product]:
        seen: set[str] = set()
        for product in value:
            if product.sku in seen:
                raise ValueError(f"duplicate sku {product.sku!r}")
            seen.add(product.sku)
        return value

    def get(self, sku: str) -> Product | None:
        return next((p for p in self.products if p.sku == sku), None)
