"""Linking a line to catalog products and facts: names, sounds and meaning, per catalog."""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from assistant.catalog import Catalog, Product, product_text
from assistant.embedders import Embedder, Matrix, embed_queries
from assistant.text import fold
from assistant.understand.text import (
    GENERIC_HEADS,
    han_bigrams,
    han_chars,
    heads,
    sound_bigrams,
    words,
)
from assistant.understand.topics import TOPICS, Topic, asked_values
from assistant.understand.types import FactKind, LinkedFact, LinkVia

_SKU_TOKEN = re.compile(r"[a-z0-9][a-z0-9._-]*")
# The score of an attribute whose key the line names ("保质期多久"): near certain.
KEY_NAMED = 0.95
# An attribute that holds the topic asked about ("多重" -> 重量).
TOPIC_KEY = 0.9
# A FAQ question or selling point that mentions the topic a line asks about.
TOPIC_MENTION = 0.85
# An attribute on the topic that does not list the value asked for: not stated.
UNSURE = 0.5
# A FAQ question or selling point that shares the line's words and its meaning.
AGREE = 0.85
# A fact whose text holds a word of the line other than the product's name ("定时" in 功能).
WORDS_STATED = 0.85
# Bigrams every question has: never the subject of one.
_QUESTION_GRAMS = frozenset(
    {"可以", "能不", "不能", "是不", "不是", "有没", "没有", "什么", "怎么", "多少", "这个", "那个"}
    | {"一下", "会不", "不会", "能用", "可不", "好不", "行不", "要不", "适合", "需要", "请问"}
    | {"主播", "宝宝", "一个", "两个", "多久", "多大", "能装"}
)
_PARTICLES = frozenset("吗呢吧啊了的么呀嘛")
_NOISE = re.compile(
    r"宝宝们|家人们|姐妹们|主播|请问|问一下|想问|麻烦|谢谢|[~～!！?？。，,\s]+|\.(?!\d)"
)


@dataclass
class Fact:
    sku: str
    kind: FactKind
    key: str
    index: int
    text: str  # what is matched: "key value", the FAQ question, the selling point
    grams: set[str]


@dataclass
class Query:
    """One line, folded once; its embedding is computed only when something needs it."""

    text: str
    folded: str
    grams: set[str]
    sounds: set[str]
    words: set[str]
    vector: Matrix | None = None

    @classmethod
    def of(cls, text: str) -> Query:
        core = _NOISE.sub(" ", fold(text))
        return cls(text, core, han_bigrams(core), sound_bigrams(core), set(words(core)))

    @property
    def embed_text(self) -> str:
        return self.folded.strip() or self.text


@dataclass
class ProductHit:
    index: int
    score: float
    via: LinkVia
    grams: set[str] = field(default_factory=set)
    strong: bool = True
    head: bool = False


def _topic_score(topics: list[Topic], key: str, text: str, yes_no: bool, asked: list[str]) -> float:
    """How surely an attribute answers the topics a line asks about (0 if about none)."""
    score = 0.0
    for topic in topics:
        if any(k in key for k in topic.keys):
            # "有粉色吗" against 颜色 白色 / 黑色: the list does not say, so neither does the bot
            missing = topic.exact and any(v not in text.casefold() for v in asked)
            score = max(score, UNSURE if missing else TOPIC_KEY)
        elif any(k in key for k in topic.maybe):
            # a 面料 that states 防水 answers "防雨吗"; one that does not may not
            sure = topic.mentioned_in(text)
            score = max(score, TOPIC_KEY if sure else 0.7 if yes_no else 0.85)
    return score


def _mask(text: str, name: set[str]) -> str:
    """The text with the product's name blanked: every run of three or more characters it
    shares with the name, and the first shorter one ("防晒能防水吗" asks about 防水, and
    "保温杯保温怎么样" still asks about 保温)."""
    runs: list[tuple[int, int]] = []
    k = 0
    while k < len(text) - 1:
        if text[k : k + 2] not in name:
            k += 1
            continue
        end = k + 2
        while end < len(text) and text[end - 1 : end + 1] in name:
            end += 1
        runs.append((k, end))
        k = end
    masked = list(text)
    for n, (start, end) in enumerate(runs):
        if n == 0 or end - start >= 3:
            masked[start:end] = " " * (end - start)
    return "".join(masked)


def _idf(sets: list[set[str]]) -> dict[str, float]:
    df = Counter(g for s in sets for g in s)
    n = len(sets)
    return {g: math.log((n + 1) / c) for g, c in df.items()}


def _name_parts(p: Product) -> list[str]:
    parts = [p.title, *re.split(r"[\s/|，,]+", p.title)]
    if p.title_en:
        parts.append(p.title_en)
    return [x for x in dict.fromkeys(parts) if len(x.strip()) >= 2]


def _facts(p: Product) -> list[Fact]:
    out = [
        Fact(p.sku, "attribute", k, i, f"{k} {v}", han_bigrams(f"{k}{v}"))
        for i, (k, v) in enumerate(p.attributes.items())
    ]
    out += [
        Fact(p.sku, "selling_point", s, i, s, han_bigrams(s))
        for i, s in enumerate(p.selling_points)
    ]
    out += [Fact(p.sku, "faq", f.q, i, f.q, han_bigrams(f.q)) for i, f in enumerate(p.faq)]
    return out


class CatalogIndex:
    """Everything linking needs about one catalog, built once in a worker thread."""

    def __init__(self, catalog: Catalog, embedder: Embedder | None) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.wanted: list[Query] | None = None
        products = catalog.products
        self.grams = [han_bigrams(p.title) for p in products]
        self.title_chars = set().union(*(han_chars(p.title) for p in products))
        named = [heads(p.title) for p in products]
        self.heads = [chars - GENERIC_HEADS for chars, _ in named]
        self.head_grams = [pairs for _, pairs in named]
        self.sounds = [sound_bigrams(p.title) for p in products]
        self.words = [set(words(f"{p.title} {p.title_en or ''} {p.sku}")) for p in products]
        self.gram_df = Counter(g for s in self.grams for g in s)
        self.gram_idf = _idf(self.grams)
        self.head_idf = _idf(self.heads)
        self.sound_idf = _idf(self.sounds)
        self.word_idf = _idf(self.words)
        self.facts = [_facts(p) for p in products]
        self.by_sku = {p.sku: i for i, p in enumerate(products)}
        self.by_sku_folded = {p.sku.casefold(): i for i, p in enumerate(products)}
        self.postings: dict[str, list[int]] = {}
        for i in range(len(products)):
            for key in self.grams[i] | self.heads[i] | self.sounds[i] | self.words[i]:
                self.postings.setdefault(key, []).append(i)
        self.name_owner: list[int] = []
        self.name_vecs: Matrix | None = None
        self.card_vecs: Matrix | None = None
        self.fact_vecs: list[Matrix] = []
        if embedder is not None and products:
            names = [(i, t) for i, p in enumerate(products) for t in _name_parts(p)]
            facts = [f.text for fs in self.facts for f in fs]
            cards = [product_text(p) for p in products]
            vecs = embedder.embed([t for _, t in names] + cards + facts)
            self.name_owner = [i for i, _ in names]
            self.name_vecs = vecs[: len(names)]
            self.card_vecs = vecs[len(names) : len(names) + len(cards)]
            start = len(names) + len(cards)
            for fs in self.facts:
                self.fact_vecs.append(vecs[start : start + len(fs)])
                start += len(fs)

    def without_meaning(self) -> CatalogIndex:
        """The same index reading names and sounds only (no model call)."""
        clone = copy.copy(self)
        clone.embedder = None
        return clone

    def deferring(self) -> CatalogIndex:
        """The same index reading without meaning, noting each query that would have needed
        the embedder (in ``wanted``): a batch then embeds only those, in one call."""
        clone = self.without_meaning()
        clone.wanted = []
        return clone

    def embed(self, queries: list[Query]) -> None:
        """Embed every query still without a vector in one call (a batch costs far less)."""
        todo = [q for q in queries if q.vector is None]
        if self.embedder is None or not todo:
            return
        vecs = embed_queries(self.embedder, [q.embed_text for q in todo])
        for q, v in zip(todo, vecs, strict=True):
            q.vector = v

    def vector(self, q: Query) -> Matrix | None:
        if self.embedder is None:
            if self.wanted is not None and q.vector is None:
                self.wanted.append(q)
            return q.vector
        self.embed([q])
        return q.vector

    # -- products ------------------------------------------------------------------------------

    def lexical(
        self, q: Query, exclude: frozenset[str] | set[str] = frozenset()
    ) -> list[ProductHit]:
        """Products scored by the rarity of the name pieces the line shares with their titles.

        A hit is strong when a piece is this product's alone, ends a piece of its title (the
        noun: 保温杯, 耳机), or several pieces agree; a lone common modifier (女款) or a lone
        noun character or sound is weak, and only counts where nothing else points anywhere.
        """
        hits: list[ProductHit] = []
        grams = q.grams - exclude
        chars = set(q.folded)
        skus = {
            self.by_sku_folded[t] for t in _SKU_TOKEN.findall(q.folded) if t in self.by_sku_folded
        }
        # only products that share something with the line: a big catalog costs what it shares
        keys = [*grams, *chars, *q.sounds, *q.words]
        candidates = sorted({i for k in keys for i in self.postings.get(k, ())} | skus)
        for i in candidates:
            shared = grams & self.grams[i]
            score = sum(self.gram_idf[g] for g in shared)
            head = bool(shared & self.head_grams[i])
            strong = head or len(shared) >= 2 or any(self.gram_df[g] == 1 for g in shared)
            via: LinkVia = "name"
            if not shared:
                # A lone noun character that ends a piece of the title ("跑鞋" for 跑步鞋), or a
                # name that sounds the same (保问杯).
                heads = chars & self.heads[i]
                score = 0.5 * sum(self.head_idf[c] for c in heads)
                head = bool(heads)
                sound = 0.8 * sum(self.sound_idf[s] for s in (q.sounds & self.sounds[i]))
                if sound > score:
                    score, via = sound, "sound"
                    strong = len(q.sounds & self.sounds[i]) >= 2
            shared_words = q.words & self.words[i]
            if shared_words:
                score += sum(self.word_idf[w] for w in shared_words)
                strong = True
            if i in skus:
                score, via, strong = score + 100.0, "sku", True
            if score > 0:
                hits.append(ProductHit(i, score, via, shared, strong=strong, head=head))
        return sorted(hits, key=lambda h: (-h.strong, -h.score, -h.head))

    def semantic(self, q: Query) -> list[ProductHit]:
        """Products scored by the meaning of the line against each of their names."""
        vec = self.vector(q)
        if vec is None or self.name_vecs is None:
            return []
        sims = self.name_vecs @ vec
        best: dict[int, float] = {}
        for owner, sim in zip(self.name_owner, sims.tolist(), strict=True):
            best[owner] = max(best.get(owner, -1.0), sim)
        return sorted(
            (ProductHit(i, s, "meaning") for i, s in best.items()), key=lambda h: -h.score
        )

    def by_card(self, q: Query) -> list[ProductHit]:
        """Products scored by the meaning of the line against their whole card: an English
        line finds a Chinese-only product through its attributes and selling points too."""
        vec = self.vector(q)
        if vec is None or self.card_vecs is None:
            return []
        sims = (self.card_vecs @ vec).tolist()
        hits = [ProductHit(i, s, "meaning") for i, s in enumerate(sims)]
        return sorted(hits, key=lambda h: -h.score)

    # -- facts ---------------------------------------------------------------------------------

    def facts_for(
        self, q: Query, sku: str, *, yes_no: bool = False, limit: int = 4
    ) -> list[LinkedFact]:
        """The product's facts ranked by how well they answer the line (score in [0, 1]).

        The attribute key in the line is near certain; a topic word ("多重" -> 重量) is strong for
        a what-is question, weaker for a yes/no one, whose answer the fact may not hold. The
        product's own name is not evidence ("保温杯能进微波炉吗" is not about 保温时长).
        """
        i = self.by_sku.get(sku)
        if i is None:
            return []
        grams = q.grams - self.grams[i]
        text = _mask(q.folded, self.grams[i])
        topics = [t for t in TOPICS if t.words.search(text)]
        asked = asked_values(text)
        # the line's own words, not its name or its question words: "能煮燕窝吗" -> 燕窝
        content = {g for g in grams - _QUESTION_GRAMS if not set(g) & _PARTICLES}
        lexical: list[tuple[float, float]] = []
        for f in self.facts[i]:
            score = WORDS_STATED if content and len(content & f.grams) >= len(content) / 2 else 0
            if f.kind == "attribute":
                if f.key.casefold() in text or (len(f.key) >= 2 and han_bigrams(f.key) & grams):
                    score = KEY_NAMED
                else:
                    score = max(score, _topic_score(topics, f.key, f.text, yes_no, asked))
            elif any(t.mentioned_in(f.text) and not t.exact for t in topics):
                score = max(score, TOPIC_MENTION)  # "能当充电宝用吗": a point that says 充电
            overlap = (
                len(f.grams & grams) / len(f.grams) if f.kind != "attribute" and f.grams else 0
            )
            lexical.append((score, min(0.95, 0.45 + overlap) if overlap >= 0.3 else 0.0))
        # The embedder is asked only when the words leave the answer open.
        sure = max((max(pair) for pair in lexical), default=0.0) >= TOPIC_KEY
        vec = None if sure else self.vector(q)
        sims = (self.fact_vecs[i] @ vec).tolist() if vec is not None else [0.0] * len(lexical)
        scored: list[LinkedFact] = []
        for f, (score, overlap), sim in zip(self.facts[i], lexical, sims, strict=True):
            # the words and the meaning agree: as sure as a topic match
            agree = AGREE if overlap >= 0.6 and sim >= 0.55 else 0.0
            best = max(sim, score, overlap, agree)
            scored.append(
                LinkedFact(sku=sku, kind=f.kind, key=f.key, index=f.index, score=round(best, 4))
            )
        scored.sort(key=lambda lf: -lf.score)
        return scored[:limit]
