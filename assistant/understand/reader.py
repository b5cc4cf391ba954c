"""Reading one line against one catalog: intent, which product(s), which facts, or ambiguity."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from assistant.understand.linker import CatalogIndex, ProductHit, Query
from assistant.understand.rules import DEICTIC, FOLLOW_UP, RULES, YES_NO, intent_of
from assistant.understand.text import han_chars, language_of
from assistant.understand.types import (
    PRIORITY,
    SHOP_INTENTS,
    Intent,
    LinkedFact,
    LinkedProduct,
    Understanding,
)

# Lines that ask nothing about a product: no linking, no embedding.
_NO_LINK: frozenset[Intent] = frozenset({"greeting", "chitchat", "offtopic"})
# Intents answered from the card's fixed fields or elsewhere: no fact linking.
_NO_FACTS: frozenset[Intent] = frozenset({"how_to_buy", "recommendation"})
# What asks, not what names: intent keywords never name a product ("容量多大" is not the fryer
# whose title says 大容量). Topic words stay: 保温 asks about warmth and names the 保温杯.
_INTENT_WORDS = re.compile("|".join(f"(?:{p.pattern})" for _, p in RULES[:-1]))


def _keyword_only(match: re.Match[str]) -> str:
    """Blank an intent or topic keyword, but not a long span a pattern reached across: "165
    55kg羽绒服穿" matches the size-advice rule and still names the down jacket."""
    text = match.group(0)
    return " " if len(text) <= 4 or text.isascii() else text


@dataclass(frozen=True)
class Thresholds:
    """Where a name or meaning match is strong enough to name a product."""

    # A shared name piece must be at least this rare: a fraction of log(N+1) for N products.
    lexical: float = 0.55
    # Lexical scores within this fraction of the best are the same evidence: ambiguous.
    tie: float = 0.9
    semantic: float = 0.5
    semantic_margin: float = 0.05
    # A line with no Chinese names the product whose whole card it means by this margin.
    card_margin: float = 0.06


@dataclass(frozen=True)
class Context:
    """What the line may point at without naming it."""

    stage: str | None = None
    last: str | None = None  # the product this viewer asked about last, if recent


@dataclass
class Line:
    """A line parsed once: its intent, its words, and the part that may name a product."""

    text: str
    intent: Intent
    q: Query
    names: Query
    # No rule spoke: a question if it names something of the room, else chit-chat.
    unsure: bool = False

    @classmethod
    def of(cls, text: str) -> Line:
        q = Query.of(text)
        intent = intent_of(text)
        names = Query.of(_INTENT_WORDS.sub(_keyword_only, q.folded))
        return cls(text, intent or "question", q, names, unsure=intent is None)

    @property
    def linkable(self) -> bool:
        return self.intent not in _NO_LINK

    @property
    def needs_facts(self) -> bool:
        return self.linkable and self.intent not in _NO_FACTS


@dataclass
class Naming:
    """What a line's words say about products: named ones, or candidates to choose from."""

    named: list[ProductHit]
    candidates: list[ProductHit]
    # True when the context must not settle the candidates (the words point away from it).
    contested: bool = False


def _named(line: Line, index: CatalogIndex, ctx: Context, deictic: bool, t: Thresholds) -> Naming:
    """Products named by name and sound first, then by meaning, or candidates to ask about.

    Strong evidence names a product over any context; two products named by different nouns
    are asked back. Weak evidence (a lone noun character, a sound, meaning) names one only
    when nothing else is in context; against a context product it makes the line ambiguous.
    """
    intent = line.intent
    floor = t.lexical * math.log(len(index.catalog.products) + 1)
    hits = index.lexical(line.names)
    strong = [h for h in hits if h.strong and h.score >= floor]
    if strong:
        nouns = [h for h in strong if h.head] or strong
        ties = [h for h in nouns if h.score >= t.tie * nouns[0].score]
        if intent == "compare":
            others = [h for h in strong if h not in ties and not h.grams <= ties[0].grams]
            if len(ties + others) >= 2:
                return Naming((ties + others)[:2], [])
        if len(ties) == 1:
            # another product named by a different noun: which one is asked about is unclear
            ties += [h for h in nouns[1:] if not h.grams <= ties[0].grams][:1]
        return Naming(ties, []) if len(ties) == 1 else Naming([], ties)
    if intent in SHOP_INTENTS and intent != "how_to_buy":
        return Naming([], [])  # shop questions need no product unless one is clearly named
    weak = [h for h in hits if (h.head or h.via == "sound") and h.score >= floor / 2]
    free = ctx.stage is None and ctx.last is None
    if weak and not free:
        context = ctx.last or ctx.stage
        if len(weak) == 1 and index.catalog.products[weak[0].index].sku != context:
            # "刀多少钱" while the kettle is on stage: the knife or the kettle? ask.
            hint = index.by_sku.get(context or "")
            extra = [ProductHit(hint, 0.0, "stage")] if hint is not None else []
            return Naming([], weak + extra, contested=True)
        return Naming([], [])
    if weak:
        ties = [h for h in weak if h.score >= t.tie * weak[0].score]
        return Naming(ties, []) if len(ties) == 1 else Naming([], ties)
    if deictic or not free or not line.names.folded.strip():
        return Naming([], [])
    if line.names.grams and not han_chars(line.names.folded) & index.title_chars:
        return Naming([], [])  # Chinese words that share no character with any title name none
    sem = index.semantic(line.names)
    if not sem or sem[0].score < t.semantic:
        return _by_card(line, index, t)
    close = [h for h in sem if h.score >= sem[0].score - t.semantic_margin]
    if len(close) == 1 or intent == "compare":
        return Naming(close[: 2 if intent == "compare" else 1], [])
    return Naming([], close[:4])


def _by_card(line: Line, index: CatalogIndex, t: Thresholds) -> Naming:
    """An English line about a Chinese-only catalog: the card it means clearly above the rest."""
    if not line.names.words or line.names.grams:
        return Naming([], [])
    cards = index.by_card(line.q)
    if len(cards) >= 2 and cards[0].score - cards[1].score >= t.card_margin:
        return Naming(cards[:1], [])
    return Naming([], [])


def read(
    line: Line, index: CatalogIndex, ctx: Context, t: Thresholds | None = None
) -> Understanding:
    """The whole understanding of one parsed line (blocking: it may run the embedder)."""
    t = t or Thresholds()
    intent, q = line.intent, line.q
    out = Understanding(language=language_of(line.text), intent=intent, priority=PRIORITY[intent])
    if not line.linkable or not index.catalog.products:
        return out
    out.deictic = bool(DEICTIC.search(q.folded))
    naming = _named(line, index, ctx, out.deictic, t)
    skus = index.catalog.products
    if naming.named:
        out.products = [LinkedProduct(sku=skus[h.index].sku, score=round(h.score, 4), via=h.via)
                        for h in naming.named]  # fmt: skip
    elif naming.contested:
        out.ambiguous = list(dict.fromkeys(skus[h.index].sku for h in naming.candidates))
    else:
        candidates = [skus[h.index].sku for h in naming.candidates]
        follow = bool(FOLLOW_UP.search(q.folded))
        order = [ctx.stage, ctx.last] if out.deictic or not follow else [ctx.last, ctx.stage]
        if line.unsure and not (out.deictic or follow):
            order = [ctx.last]  # no rule spoke and nothing points: only a running conversation
        if candidates:
            pick = next((s for s in order if s in candidates), None)
        else:
            pick = next((s for s in order if s is not None and s in index.by_sku), None)
        if pick is not None:
            via = "stage" if pick == ctx.stage else "history"
            out.products = [LinkedProduct(sku=pick, score=1.0, via=via)]
        elif candidates and intent == "compare":
            out.products = [LinkedProduct(sku=s, score=0.5, via="meaning") for s in candidates[:2]]
        elif candidates:
            out.ambiguous = candidates
        elif len(skus) == 1:
            out.products = [LinkedProduct(sku=skus[0].sku, score=1.0, via="only")]
    if line.needs_facts:
        facts: list[LinkedFact] = []
        yes_no = bool(YES_NO.search(q.folded))
        for k, product in enumerate(out.products):
            facts += index.facts_for(q, product.sku, yes_no=yes_no, limit=4 if k == 0 else 2)
        out.facts = facts
    if line.unsure and not out.products and not out.ambiguous:
        # "主播今天好美" names nothing: chat, not an unanswered question.
        return Understanding(
            language=out.language, intent="chitchat", priority=PRIORITY["chitchat"]
        )
    return out
