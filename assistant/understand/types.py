"""What one chat line means, computed once: language, intent, linked products and facts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["zh", "en"]
Intent = Literal[
    "how_to_buy",
    "price",
    "stock",
    "spec",
    "size_advice",
    "shipping",
    "returns",
    "after_sales",
    "invoice",
    "payment",
    "compare",
    "usage",
    "recommendation",
    "question",
    "greeting",
    "chitchat",
    "offtopic",
]
# Questions the room's shop facts answer (when no product FAQ says more).
SHOP_INTENTS: frozenset[Intent] = frozenset(
    {"how_to_buy", "shipping", "returns", "after_sales", "invoice", "payment"}
)
# How close a line is to a purchase: an unanswered buying question is lost revenue.
PRIORITY: dict[Intent, float] = {
    "how_to_buy": 1.0,
    "price": 0.9,
    "stock": 0.9,
    "spec": 0.8,
    "size_advice": 0.8,
    "shipping": 0.8,
    "returns": 0.8,
    "after_sales": 0.8,
    "invoice": 0.7,
    "payment": 0.8,
    "compare": 0.8,
    "recommendation": 0.7,
    "usage": 0.6,
    "question": 0.5,
    "chitchat": 0.3,
    "greeting": 0.1,
    "offtopic": 0.05,
}
LinkVia = Literal["sku", "name", "sound", "meaning", "stage", "history", "only"]
FactKind = Literal["attribute", "selling_point", "faq"]


class LinkedProduct(BaseModel):
    """A catalog product the line is about, and how it was found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    score: float
    via: LinkVia


class LinkedFact(BaseModel):
    """A fact of a linked product that may answer the line (``index`` into its kind's list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    kind: FactKind
    key: str
    index: int
    score: float


class Understanding(BaseModel):
    """The one reading of a chat line that triage, the answerer and recommend all use."""

    model_config = ConfigDict(extra="forbid")

    language: Language = "zh"
    intent: Intent = "question"
    priority: float = 0.5
    products: list[LinkedProduct] = Field(default_factory=list, max_length=4)
    # Products the line could mean when nothing settles which: asked back, never guessed.
    ambiguous: list[str] = Field(default_factory=list, max_length=8)
    facts: list[LinkedFact] = Field(default_factory=list, max_length=16)
    # "这个" / "this one": the line points at whatever is on stage.
    deictic: bool = False

    @property
    def sku(self) -> str | None:
        return self.products[0].sku if self.products else None

    @property
    def skus(self) -> list[str]:
        return [p.sku for p in self.products]
