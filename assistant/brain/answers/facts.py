"""Answers built in code from catalog and shop facts; a model may only choose among them."""

from __future__ import annotations

import re

from assistant.catalog import Catalog, Product, ShopInfo
from assistant.understand.types import Intent, LinkedFact

_UNKNOWN = {
    "zh": "@{name} 这个问题我暂时不确定，主播稍后回复你～",
    "en": "@{name} I don't know, the host will reply.",
}
_CLARIFY = {
    "zh": "@{name} 你问的是哪一款呢？{options}",
    "en": "@{name} Which one do you mean? {options}",
}
_NAME_IT = {"zh": "说一下商品名或链接号哦～", "en": "Tell me its name or link number."}
_LINK = {"zh": "{name}是{link}号链接。", "en": "{name} is link no. {link}."}
_FIRST_PIECE = re.compile(r"[\s(（]")


def _title(p: Product, lang: str) -> str:
    return (p.title_en or p.title) if lang == "en" else p.title


def short_name(p: Product, lang: str) -> str:
    """The title's first piece ("316不锈钢保温杯"), as a viewer would call it."""
    if lang == "en" and p.title_en:
        return p.title_en.split(",")[0]
    head = _FIRST_PIECE.split(p.title.strip(), maxsplit=1)[0]
    return head if len(head) >= 3 else p.title


def _num(x: float) -> str:
    return f"{x:g}" if x != int(x) else str(int(x))


def unknown(name: str, lang: str) -> str:
    return _UNKNOWN.get(lang, _UNKNOWN["zh"]).format(name=name)


def clarify(name: str, products: list[Product], lang: str) -> str:
    """Ask which product a viewer means; names only, never a fact of a guessed one."""
    names = [short_name(p, lang) for p in products]
    if not names:
        options = _NAME_IT.get(lang, _NAME_IT["zh"])
    elif lang == "en":
        options = ", ".join(names[:-1]) + f" or {names[-1]}?" if len(names) > 1 else names[0] + "?"
    else:
        options = (
            "、".join(names[:-1]) + f"还是{names[-1]}？" if len(names) > 1 else names[0] + "？"
        )
    return _CLARIFY.get(lang, _CLARIFY["zh"]).format(name=name, options=options)


def fact_text(p: Product, fact: LinkedFact, lang: str) -> str:
    """One linked fact stated from the card: an attribute, a selling point or a FAQ answer."""
    name = short_name(p, lang)
    if fact.kind == "attribute":
        value = p.attributes[fact.key]
        return (
            f"{name} — {fact.key}: {value}." if lang == "en" else f"{name}的{fact.key}是{value}。"
        )
    if fact.kind == "selling_point":
        point = p.selling_points[fact.index]
        return f"{name}: {point}." if lang == "en" else f"{name}：{point}。"
    answer = p.faq[fact.index].a
    return f"{name}: {answer}" if lang == "en" else f"{name}：{answer}"


def facts_text(p: Product, facts: list[LinkedFact], lang: str) -> str:
    return "".join(fact_text(p, f, lang) for f in facts)


def shop_text(intent: Intent, shop: ShopInfo, product: Product | None, lang: str) -> str | None:
    """The room's answer to a shop question; how to buy names the product's link number."""
    body = {
        "how_to_buy": shop.how_to_buy,
        "shipping": shop.shipping,
        "returns": shop.returns,
        "after_sales": shop.after_sales,
        "invoice": shop.invoice,
        "payment": shop.payment,
    }.get(intent, "")
    if intent == "how_to_buy" and product is not None and product.link is not None:
        link = _LINK.get(lang, _LINK["zh"]).format(
            name=short_name(product, lang), link=product.link
        )
        body = link + body
    return body or None


def compare_text(pairs: list[tuple[Product, list[LinkedFact]]], lang: str) -> str:
    """Two products side by side: each one's linked facts, or its price when none is linked."""
    parts = [facts_text(p, facts, lang) if facts else price_text(p, lang) for p, facts in pairs]
    return "".join(parts)


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
