"""Short, fact-built reasons for a recommendation, in the viewer's language."""

from __future__ import annotations

import re

from assistant.catalog import Product
from recommend.text import Ask

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_STOP = {"the", "with", "and", "for", "set", "size", "pack", "packs", "of"}
_GIFT_TAGS = ("礼", "送", "gift")
_FILLER = "元以内下上块钱预算推荐有没什么好的个吗呢一款点些买想要适合送给"


def shared_kind(a: Product, b: Product, language: str) -> str:
    """What two products have in common by their own words: a shared title run, tag or category."""
    if language == "en" and a.title_en and b.title_en:
        words_b = {w.lower() for w in _WORD.findall(b.title_en)}
        common = [
            w for w in _WORD.findall(a.title_en) if w.lower() in words_b and w.lower() not in _STOP
        ]
        if common:
            return " ".join(common[-2:]).lower()
    elif language == "zh":
        best = ""
        for i in range(len(a.title)):
            for j in range(i + 2, len(a.title) + 1):
                piece = a.title[i:j]
                if not re.fullmatch(r"[\u4e00-\u9fff]+", piece) or piece not in b.title:
                    continue
                if len(piece) >= len(best):
                    best = piece
        if best:
            return best
    tags = [
        t
        for t in a.tags
        if t in b.tags and (language == "en") != bool(re.search(r"[\u4e00-\u9fff]", t))
    ]
    return tags[0] if tags else a.category


def _name(product: Product, language: str) -> str:
    return (product.title_en or product.title) if language == "en" else product.title


def _matching_point(product: Product, query: str) -> str | None:
    """The selling point sharing the most characters (zh) or words (en) with the query."""
    q_chars = {c for c in query if "\u4e00" <= c <= "\u9fff"} - set(_FILLER)
    best, best_n = None, 1
    for point in product.selling_points:
        n = len(q_chars & set(point))
        if n > best_n:
            best, best_n = point, n
    return best


def build_reason(
    product: Product,
    intent: Ask,
    query: str,
    *,
    stage: Product | None,
    co_with: Product | None,
    history_like: Product | None,
) -> str:
    """Join up to three facts: price relation, budget, co-engagement or history link, a tag."""
    zh = intent.language == "zh"
    facts: list[str] = []
    if intent.kind == "cheaper" and stage is not None and product.price < stage.price:
        kind = shared_kind(product, stage, intent.language)
        diff = stage.price - product.price
        if product.category == stage.category:
            facts.append(
                (f"同款{kind}里" if kind != product.category else "同类商品里")
                + f"更便宜的一款，比台上的便宜¥{diff:g}"
                if zh
                else f"a cheaper {kind}: ¥{diff:g} less than the one on stage"
            )
        else:
            facts.append(
                f"比台上的便宜¥{diff:g}" if zh else f"¥{diff:g} less than the one on stage"
            )
    elif intent.kind == "complement" and stage is not None:
        facts.append(
            f"可以和台上的{_name(stage, 'zh')}搭配"
            if zh
            else f"goes with the {_name(stage, 'en')} on stage"
        )
    elif intent.kind == "similar" and stage is not None:
        kind = shared_kind(product, stage, intent.language)
        facts.append(f"和台上的同属{kind}" if zh else f"also a {kind}, like the one on stage")
    if intent.price.active:
        hi = intent.price.max_price
        if hi is not None:
            facts.append(
                f"¥{product.price:g}，在¥{hi:g}预算内"
                if zh
                else f"¥{product.price:g}, within your ¥{hi:g} budget"
            )
        else:
            facts.append(f"¥{product.price:g}")
    if co_with is not None:
        facts.append(
            f"看过{_name(co_with, 'zh')}的观众也在看这款"
            if zh
            else f"viewers who liked the {_name(co_with, 'en')} chose this too"
        )
    elif history_like is not None:
        facts.append(
            f"和你看过的{_name(history_like, 'zh')}相似"
            if zh
            else f"similar to the {_name(history_like, 'en')} you looked at"
        )
    if intent.gift and len(facts) < 2:
        gift_tags = [t for t in product.tags if any(g in t for g in _GIFT_TAGS)]
        if gift_tags:
            facts.append(f"适合{gift_tags[0]}" if zh else "tagged as a gift")
    if len(facts) < 2 and (point := _matching_point(product, query)) and zh:
        facts.append(point)
    if not facts:
        facts.append(
            product.selling_points[0]
            if zh and product.selling_points
            else _name(product, intent.language)
        )
    if 0 < product.stock <= 10:
        facts.append(f"仅剩{product.stock}件" if zh else f"only {product.stock} left")
    return ("，" if zh else "; ").join(facts[:3])
