"""Question intent: keyword rules first, then a small JSON-constrained LLM call for the rest."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from assistant.catalog import Catalog, Product

Intent = Literal[
    "price", "stock", "spec", "shipping", "usage", "recommendation", "chitchat", "offtopic"
]
FACT_INTENTS: frozenset[str] = frozenset({"price", "stock", "spec", "shipping"})

_RULES: list[tuple[Intent, re.Pattern[str]]] = [
    (
        "shipping",
        re.compile(
            r"发货|快递|包邮|运费|退货|退换|退款|售后|保修|几天到|配送|ship|deliver|return|refund|"
            r"warranty|postage",
            re.I,
        ),
    ),
    (
        "price",
        re.compile(
            r"多少钱|价格|价钱|几块|几元|优惠|便宜|贵|打折|折扣|原价|划算|price|cost|how much|"
            r"discount|cheap|expensive|\bdeal\b",
            re.I,
        ),
    ),
    (
        "stock",
        re.compile(
            r"库存|还有货|有货|没货|还剩|剩几|几件|抢光|卖完|现货|in stock|stock|left|sold out|"
            r"available|how many",
            re.I,
        ),
    ),
    (
        "spec",
        re.compile(
            r"尺寸|尺码|多大|多高|多重|重量|容量|材质|材料|面料|成分|颜色|几种颜色|规格|参数|"
            r"毫升|多长|大小|保温|功率|产地|保质期|色号|续航|电池|多少瓦|几档|size|material|weight|"
            r"capacity|colou?r|dimension|made of|\bspec|how big|how heavy|ml\b|fabric|insulat|"
            r"ingredient|volume|power|watt|battery|shelf life",
            re.I,
        ),
    ),
    (
        "usage",
        re.compile(
            r"怎么用|如何使用|怎么洗|能不能|可以用|适合|微波炉|洗碗机|怎么保养|使用方法|how to|"
            r"how do i|can i|dishwasher|microwave|suitable|wash|clean",
            re.I,
        ),
    ),
    (
        "recommendation",
        re.compile(r"推荐|哪个好|选哪|送人|礼物|recommend|which one|suggest|gift|better", re.I),
    ),
    (
        "chitchat",
        re.compile(
            r"^(你好|哈喽|主播好|晚上好|早上好|hello|hi|hey|666+|哈哈+|thanks|谢谢)|好看|漂亮|爱你",
            re.I,
        ),
    ),
]


class IntentGuess(BaseModel):
    """The JSON the LLM must produce when the keyword rules are silent."""

    intent: Intent


def keyword_intent(text: str) -> Intent | None:
    for intent, pattern in _RULES:
        if pattern.search(text):
            return intent
    return None


_THIS = re.compile(r"这个|这款|这件|这只|这杯|它|this one|this|it\b|that one", re.I)


_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP = frozenset({"the", "and", "with", "for", "how", "much", "this", "one", "does", "what"})


def _bigrams(text: str) -> set[str]:
    """Character bigrams of CJK text and digits (English is matched by whole words)."""
    text = "".join(ch for ch in text.casefold() if ch.isalnum())
    grams = {text[i : i + 2] for i in range(len(text) - 1)}
    return {g for g in grams if not (g.isascii() and g.isalpha())}


def _name_score(low: str, grams: set[str], product: Product) -> int:
    score = len(_bigrams(product.title) & grams)
    words = set(_WORD.findall((product.title_en or "").casefold())) - _STOP
    shared = len(words & set(_WORD.findall(low)))
    score = max(score, 2 * shared if shared >= 2 else 0)  # one word ("power") is not a name
    if product.sku.casefold() in low:
        score += 100
    return score


def mentioned_product(text: str, catalog: Catalog) -> Product | None:
    """The product a text names (SKU, title bigrams, English title words), if one stands out."""
    low = text.casefold()
    grams = _bigrams(text)
    scored = sorted(
        ((_name_score(low, grams, p), i) for i, p in enumerate(catalog.products)), reverse=True
    )
    if not scored or scored[0][0] < 2:
        return None
    if len(scored) > 1 and scored[1][0] >= scored[0][0]:
        return None  # ambiguous ("保温杯" fits two cups): fall back to the stage product
    return catalog.products[scored[0][1]]


def resolve_product(text: str, catalog: Catalog, stage_sku: str | None) -> Product | None:
    """The product a question is about: one it names, else the one on stage ("这个", "this one")."""
    named = mentioned_product(text, catalog)
    if named is not None:
        return named
    if stage_sku is not None:
        return catalog.get(stage_sku)
    if len(catalog.products) == 1:
        return catalog.products[0]
    return None


def refers_to_stage(text: str) -> bool:
    return bool(_THIS.search(text))
