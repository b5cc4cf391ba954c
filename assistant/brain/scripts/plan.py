"""A script's plan, built in code from the card: hook, points, proof, price, call to action."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from assistant.brain.answers.facts import short_name
from assistant.catalog import Product, ShopInfo
from assistant.events import SectionKind

# What each style leans on between the hook and the price: selling points or proof from the card.
_MIDDLE = {
    "energetic": ("point", "point", "proof", "point", "proof", "point"),
    "gentle": ("point", "proof", "point", "proof", "point", "proof"),
    "professional": ("proof", "point", "proof", "proof", "point", "proof"),
}
# What one model-phrased section adds, in characters, as measured on the packaged model.
SECTION_CHARS = {"zh": 24, "en": 110}
MAX_MIDDLE = 12
_HOOK = {
    "zh": (
        "家人们看过来，今天给大家带来{name}。",
        "接下来这款是{name}，大家仔细看看。",
        "好，镜头前这款就是{name}。",
        "刚进来的朋友看一下，现在讲的是{name}。",
        "下面这款{name}，很多朋友一直在等。",
    ),
    "en": (
        "Everyone, take a look: this is the {name}.",
        "Next up on stage, the {name}.",
        "If you just joined, we are showing the {name} right now.",
        "Here it is, the {name}.",
        "A lot of you have been waiting for this one: the {name}.",
    ),
}
_PRICE = {
    "zh": (
        "原价{list}元，今天直播间只要{price}元，立省{save}元。",
        "今天直播间价{price}元，比原价{list}元便宜{save}元。",
        "原价{list}元的{name}，现在下单{price}元就能带回家。",
    ),
    "en": (
        "It lists at ¥{list}, and in this room it is only ¥{price}: you save ¥{save}.",
        "Today's room price is ¥{price}, ¥{save} off the ¥{list} list price.",
        "The {name} is ¥{price} here today instead of ¥{list}.",
    ),
}
_PRICE_PLAIN = {
    "zh": ("今天直播间价{price}元。", "{name}现在下单只要{price}元。", "直播间价格{price}元。"),
    "en": (
        "Today's room price is ¥{price}.",
        "The {name} is ¥{price} right now.",
        "It's ¥{price}.",
    ),
}
_CTA = {
    "zh": (
        "喜欢的家人点左下角小黄车，找{link}号链接下单。",
        "想要的朋友直接去小黄车拍{link}号链接。",
        "{link}号链接已经上架，选好规格就可以下单了。",
    ),
    "en": (
        "Tap the cart at the bottom left and look for link {link}.",
        "Want one? It's link {link} in the cart.",
        "Link {link} is live: pick your option and check out.",
    ),
}
_CTA_SHOP = {"zh": "下单方式：{how}", "en": "To order: {how}"}


class Section(BaseModel):
    """One part of a script: what it may say (``facts``) and the code's own wording of it."""

    kind: SectionKind
    facts: list[str]
    fallback: str
    by_model: bool  # the model phrases it; the code states the hook, the price and the call
    line: int | None = None  # which card line a point or proof says
    again: bool = False  # said in an earlier round: the model says it from a new angle


class Rotation(BaseModel):
    """Where a product's next script starts: how many came before, and which card lines the
    current round of its scripts has said (indices into points, then attributes, then FAQ)."""

    scripts: int = 0
    said: list[int] = []
    rounds: int = 0  # times the product's scripts have said the whole card


class Plan(BaseModel):
    """More points and proofs than a script needs: the writer says them in order until the
    script is long enough, and ``next_turn`` records where it stopped."""

    sku: str
    language: Literal["zh", "en"]
    style: str
    target_chars: int
    sections: list[Section]
    turn: Rotation = Rotation()
    next_turn: Rotation = Rotation()

    def after(self, said: list[int], lines: int) -> Rotation:
        """Where the product's next script starts, given the sections this one said; once a
        round has said all ``lines`` of the card, the next round starts."""
        now = [line for i in said if (line := self.sections[i].line) is not None]
        round_, rounds = set(self.turn.said), self.turn.rounds
        for line in now:
            if line in round_ and len(round_) >= lines:
                round_, rounds = set(), rounds + 1
            round_.add(line)
        if lines and len(round_) >= lines:
            round_, rounds = set(), rounds + 1
        return Rotation(scripts=self.turn.scripts + 1, said=sorted(round_), rounds=rounds)

    def expected_chars(self, section: Section) -> int:
        """About how long a section comes out: the model's usual length, or the code's own."""
        return SECTION_CHARS[self.language] if section.by_model else len(section.fallback)


def _num(x: float) -> str:
    return f"{x:g}" if x != int(x) else str(int(x))


def card_lines(product: Product, lang: str) -> list[tuple[SectionKind, str, str]]:
    """Every line a script can say about the product, with the code's own sentence for it:
    selling points, then attributes, then FAQ answers."""
    lines: list[tuple[SectionKind, str, str]] = [
        ("point", p, _sentence(p, lang)) for p in product.selling_points
    ]
    lines += [
        ("proof", f"{k}：{v}", f"{k}: {v}." if lang == "en" else f"{k}是{v}。")
        for k, v in product.attributes.items()
    ]
    return lines + [("proof", f"{f.q} {f.a}", f.a) for f in product.faq]


def _sentence(text: str, lang: str) -> str:
    text = text.strip().rstrip("。.！!；;，,")
    return text + ("." if lang == "en" else "。")


def _price(product: Product, lang: str, turn: int) -> str:
    name = short_name(product, lang)
    if product.list_price and product.list_price > product.price:
        forms = _PRICE[lang]
        save = _num(round(product.list_price - product.price, 2))
        return forms[turn % len(forms)].format(
            name=name, price=_num(product.price), list=_num(product.list_price), save=save
        )
    forms = _PRICE_PLAIN[lang]
    return forms[turn % len(forms)].format(name=name, price=_num(product.price))


def _cta(product: Product, shop: ShopInfo, lang: str, turn: int) -> str:
    if product.link is not None:
        forms = _CTA[lang]
        return forms[turn % len(forms)].format(link=product.link)
    how = shop.how_to_buy.split("。")[0].strip()
    return _sentence(_CTA_SHOP[lang].format(how=how), lang) if how else ""


def _by_style(lines: list[tuple[SectionKind, str, str]], ids: list[int], style: str) -> list[int]:
    """``ids`` interleaved as the style leans: energetic on points, professional on proof."""
    queues = {k: [i for i in ids if lines[i][0] == k] for k in ("point", "proof")}
    pattern = _MIDDLE.get(style, _MIDDLE["energetic"])
    out: list[int] = []
    while queues["point"] or queues["proof"]:
        kind = pattern[len(out) % len(pattern)]
        queue = queues[kind] or queues["proof" if kind == "point" else "point"]
        out.append(queue.pop(0))
    return out


def build_plan(
    product: Product,
    shop: ShopInfo,
    *,
    lang: Literal["zh", "en"],
    style: str,
    target_chars: int,
    turn: Rotation,
    model_sections: int,
) -> Plan:
    """Up to ``MAX_MIDDLE`` points and proofs between the hook and the price. ``turn`` says which
    lines the product's earlier scripts said, so successive scripts cover the whole card. The
    model phrases the first ``model_sections`` of them (and any the code cannot say in this
    language); the code states the rest from the card."""
    name = short_name(product, lang)
    lines = card_lines(product, lang)
    fresh = [i for i in range(len(lines)) if i not in set(turn.said)]
    # The round's unsaid lines first, then the next round's, each in the style's order.
    order = [(i, turn.rounds > 0) for i in _by_style(lines, fresh, style)]
    order += [(i, True) for i in _by_style(lines, sorted(turn.said), style)]
    n = turn.scripts
    sections = [
        Section(
            kind="hook",
            facts=[name],
            fallback=_HOOK[lang][n % len(_HOOK[lang])].format(name=name),
            by_model=False,
        )
    ]
    for i, (line, again) in enumerate(order[:MAX_MIDDLE]):
        kind, fact, own = lines[line]
        if lang == "en" and not own.isascii():
            own = ""  # a Chinese card line is no sentence for an English voice
        # Said before, the card's own words would repeat: only the model can say it anew.
        by_model = model_sections > 0 and (i < model_sections or not own or again)
        sections.append(
            Section(
                kind=kind,
                facts=[fact],
                fallback=own,
                by_model=by_model,
                line=line,
                again=again,
            )
        )
    tail = [("price", _price(product, lang, n)), ("cta", _cta(product, shop, lang, n))]
    sections += [
        Section(kind=kind, facts=[text], fallback=text, by_model=False)
        for kind, text in tail
        if text
    ]
    return Plan(
        sku=product.sku,
        language=lang,
        style=style,
        target_chars=target_chars,
        sections=sections,
        turn=turn,
    )
