"""Fact answers built in code from the catalog and the FAQ; the LLM may only rephrase them."""

from __future__ import annotations

import re

from pydantic import BaseModel

from assistant.answers.retrieval import FaqHit
from assistant.catalog import Catalog, Product

_SPEC_GROUPS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (
        re.compile(r"尺寸|尺码|多大|大小|多长|多高|长度|size|dimension|how big|long|tall", re.I),
        ("尺寸", "尺码", "长", "高度", "规格"),
    ),
    (
        re.compile(r"材质|材料|面料|成分|配料|什么做的|material|made of|fabric|ingredient", re.I),
        ("材质", "面料", "成分", "配料", "填充"),
    ),
    (
        re.compile(
            r"容量|毫升|装多少|净含量|多少克|capacity|volume|\bml\b|how much does it hold", re.I
        ),
        ("容量", "净含量"),
    ),
    (re.compile(r"重量|多重|几斤|weight|heavy|weigh", re.I), ("重量", "克重", "净含量")),
    (re.compile(r"颜色|色号|什么色|colou?r|shade", re.I), ("颜色", "色号")),
    (re.compile(r"产地|哪里产|哪产的|origin|where .*made|made in", re.I), ("产地",)),
    (re.compile(r"保质期|能放多久|shelf life|expire", re.I), ("保质期",)),
    (re.compile(r"保温|insulat|keep.*(warm|hot)", re.I), ("保温",)),
    (re.compile(r"功率|瓦|watt|power", re.I), ("功率",)),
    (re.compile(r"电池|续航|电量|battery|mah", re.I), ("电池", "续航")),
]

_UNKNOWN = {
    "zh": "@{name} 这个问题我暂时不确定，主播稍后回复你～",
    "en": "@{name} I don't know, the host will reply.",
}


class FactAnswer(BaseModel):
    """What code knows for one question: the template text, its sources, or nothing."""

    text: str
    known: bool
    facts: list[str]
    sku: str | None


def _title(p: Product, lang: str) -> str:
    return (p.title_en or p.title) if lang == "en" else p.title


def _num(x: float) -> str:
    return f"{x:g}" if x != int(x) else str(int(x))


def unknown(name: str, lang: str) -> str:
    return _UNKNOWN.get(lang, _UNKNOWN["zh"]).format(name=name)


def match_attributes(question: str, product: Product) -> list[tuple[str, str]]:
    """Attributes a spec question asks about (by keyword group, key name or shared bigram)."""
    low = question.casefold()
    out: list[tuple[str, str]] = []
    for key, value in product.attributes.items():
        hit = key.casefold() in low
        hit = hit or any(
            pat.search(question) and any(k in key for k in keys) for pat, keys in _SPEC_GROUPS
        )
        if not hit and len(key) >= 2 and not key.isascii():
            hit = any(key[i : i + 2] in question for i in range(len(key) - 1))
        if hit:
            out.append((key, str(value)))
    return out


def price_text(p: Product, lang: str) -> str:
    title = _title(p, lang)
    if lang == "en":
        text = f"{title} is ¥{_num(p.price)} now"
        if p.list_price and p.list_price > p.price:
            text += f" (list price ¥{_num(p.list_price)})"
        return text + "."
    text = f"{title}现在直播间价{_num(p.price)}元"
    if p.list_price and p.list_price > p.price:
        text += f"，原价{_num(p.list_price)}元"
    return text + "。"


def stock_text(p: Product, lang: str) -> str:
    title = _title(p, lang)
    if lang == "en":
        return f"{title}: {p.stock} left in stock." if p.stock else f"{title} is sold out for now."
    return f"{title}现在还有{p.stock}件库存。" if p.stock else f"{title}暂时售罄了。"


def fact_answer(
    *,
    intent: str,
    question: str,
    product: Product | None,
    faq: FaqHit | None,
    name: str,
    lang: str,
    faq_min: float,
) -> FactAnswer:
    """The code-built answer, or ``known=False`` with the "I don't know" text."""
    prefix = f"@{name} "
    good_faq = faq if faq is not None and faq.score >= faq_min else None
    body: str | None = None
    if product is not None:
        if intent == "price":
            body = price_text(product, lang)
        elif intent == "stock":
            body = stock_text(product, lang)
        elif intent == "spec":
            attrs = match_attributes(question, product)
            if attrs:
                sep = "; " if lang == "en" else "；"
                body = sep.join(f"{k}: {v}" if lang == "en" else f"{k}{v}" for k, v in attrs)
                body = f"{_title(product, lang)} — {body}." if lang == "en" else body + "。"
    if body is None and good_faq is not None:
        body = good_faq.item.a
    if body is None:
        return FactAnswer(text=unknown(name, lang), known=False, facts=[], sku=_sku(product))
    return FactAnswer(text=prefix + body, known=True, facts=[body], sku=_sku(product))


def _sku(p: Product | None) -> str | None:
    return p.sku if p is not None else None


def product_card(p: Product, lang: str) -> str:
    """The facts the LLM may use, as plain lines (never viewer text)."""
    lines = [f"title: {_title(p, lang)}", f"price: {_num(p.price)} CNY"]
    if p.list_price:
        lines.append(f"list price: {_num(p.list_price)} CNY")
    lines.append(f"stock: {p.stock}")
    lines += [f"{k}: {v}" for k, v in p.attributes.items()]
    lines += [f"selling point: {s}" for s in p.selling_points]
    if p.description:
        lines.append(f"description: {p.description}")
    return "\n".join(lines)


def catalog_numbers_text(catalog: Catalog, product: Product | None) -> str:
    """Every text a true number may come from: the product card and its FAQ answers."""
    products = [product] if product is not None else catalog.products
    parts: list[str] = []
    for p in products:
        parts += [p.title, p.title_en or "", _num(p.price), str(p.stock), p.description]
        if p.list_price:
            parts += [_num(p.list_price), _num(round(p.list_price - p.price, 2))]
        parts += [f"{k} {v}" for k, v in p.attributes.items()]
        parts += p.selling_points + [f.a for f in p.faq] + [f.q for f in p.faq]
    return "\n".join(parts)


def catalog_prices(catalog: Catalog, product: Product | None) -> set[str]:
    """The money amounts an answer may state: price, list price and the saving."""
    products = [product] if product is not None else catalog.products
    out: set[str] = set()
    for p in products:
        out.add(_num(p.price))
        if p.list_price:
            out |= {_num(p.list_price), _num(round(p.list_price - p.price, 2))}
    return out
