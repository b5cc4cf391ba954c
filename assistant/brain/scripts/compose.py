"""Section by section: the model phrases each part of the plan, and every sentence is checked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from assistant.brain.answers.guard import check
from assistant.brain.answers.stream import timed
from assistant.brain.llm.base import LLM, LLMUnavailable, Message
from assistant.brain.scripts.checks import unbacked_entities
from assistant.brain.scripts.plan import Plan, Section
from assistant.compliance import Change, ComplianceGate
from assistant.repeats import Repeats
from assistant.text import sentences

_STYLE = {
    "energetic": ("热情、有感染力、节奏快", "energetic, upbeat, fast-paced"),
    "gentle": ("温柔、亲切、娓娓道来", "gentle, warm and calm"),
    "professional": ("专业、客观、讲清参数", "professional, factual, spec-focused"),
}
# The static part of every section's prompt, one per language and style: evaluated once and
# kept by llama.cpp, so each section costs only its own short instruction.
_SYSTEM = {
    "zh": (
        "你是直播带货主播，正在直播间口播介绍商品，风格{style}。每次只写要念出来的一两句话。"
        "只用给你的资料，不编造人名、品牌、产地、认证、奖项、数字和功效，不做自我介绍，"
        "不用“最”“第一”等绝对化用语，不写标题、编号、表情和引号。"
    ),
    "en": (
        "You are a live-shopping host speaking on stream, in a {style} style. Each time, write "
        "only the one or two sentences you will say. Use only the facts given; never invent "
        "names, brands, places, certifications, awards, numbers or effects; do not introduce "
        "yourself; no superlatives; no titles, numbering, emoji or quotes."
    ),
}
_ASK = {
    "point": ("讲这个卖点", "present this selling point"),
    "proof": ("用这条资料让观众放心", "use this fact to reassure viewers"),
    "hook": ("开场，引出商品", "open and introduce the product"),
    "again": (
        "换个角度再讲这一点（讲讲怎么用、适合谁，别用原话）",
        "say this again from a new angle (how it is used, who it suits), not in the same words",
    ),
}
_META = re.compile(
    r"[<>{}#*]|facts|资料|口播|script|prompt|以下是|here is|主播名|\[name\]|风格|style:", re.I
)
_ENDS = "。！？!?."


@dataclass
class Said:
    """What a script has produced so far, and the edits made to reach it."""

    repeats: Repeats
    changes: list[Change] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)
    by_model: int = 0
    planned: list[int] = field(default_factory=list)  # points and proofs the script went through

    def reject(self, why: str) -> None:
        self.rejected[why] = self.rejected.get(why, 0) + 1


def system_message(lang: str, style: str) -> Message:
    zh, en = _STYLE.get(style, _STYLE["energetic"])
    return Message(role="system", content=_SYSTEM[lang].format(style=zh if lang == "zh" else en))


def section_messages(plan: Plan, section: Section, name: str, note: str) -> list[Message]:
    zh, en = _ASK["again" if section.again else section.kind]
    facts = "；".join(section.facts)
    if plan.language == "zh":
        user = f"商品：{name}\n{note}这一段{zh}：{facts}\n写一到两句，四十字以内。"
    else:
        user = f"Product: {name}\n{note}Now {en}: {facts}\nOne or two sentences, under 35 words."
    return [system_message(plan.language, plan.style), Message(role="user", content=user)]


class Composer:
    """Checks each sentence in turn: numbers and money against the card, names and claims
    against the card, repeats against everything said, then the compliance gate."""

    def __init__(
        self,
        gate: ComplianceGate,
        *,
        category: str | None,
        source: str,
        prices: set[str],
        extra_numbers: set[str],
    ) -> None:
        self.gate, self.category, self.source = gate, category, source
        self.prices, self.extra = prices, extra_numbers

    def vet(self, sentence: str, said: Said, *, own: bool) -> str:
        """The sentence as it may be spoken, or "" when it must be dropped."""
        sentence = sentence.strip().strip("\"'“”「」")
        if not own:
            if not sentence or _META.search(sentence):
                said.reject("meta")
                return ""
            if not check(
                sentence, self.source, allowed_extra=self.extra, allowed_prices=self.prices
            ).ok:
                said.reject("number")
                return ""
            if unbacked_entities(sentence, self.source):
                said.reject("entity")
                return ""
        fresh = said.repeats.fresh(sentence)
        if not fresh:
            said.reject("repeat")
            return ""
        rewritten = self.gate.rewrite(fresh, category=self.category)
        text = rewritten.text.strip()
        # The gate's wording, read as a listener hears it, must still be new.
        parts = sentences(text)
        if any(said.repeats.is_repeat(p) for p in parts):
            said.reject("repeat")
            return ""
        said.changes.extend(rewritten.changes)
        for part in parts:
            said.repeats.add(part)
        return text

    async def model_sentences(
        self,
        llm: LLM,
        messages: list[Message],
        *,
        said: Said,
        room_id: str,
        max_tokens: int,
        first_timeout: float,
        total_timeout: float,
    ) -> AsyncIterator[str]:
        """The section's checked sentences as the model finishes each one (two at most)."""
        buf, n = "", 0
        raw = llm.stream(
            messages, max_tokens=max_tokens, temperature=0.8, stop=["\n\n"], room_id=room_id
        )
        async for piece in timed(raw, first_timeout, total_timeout):
            buf += piece
            done = sentences(buf)
            if len(done) < 2 and buf.rstrip()[-1:] not in _ENDS:
                continue
            tail = "" if buf.rstrip()[-1:] in _ENDS else done.pop()
            for sentence in done:
                text = self.vet(sentence, said, own=False)
                if text:
                    said.by_model += 1
                    n += 1
                    yield text
            buf = tail
            if n >= 2:
                return
        if buf.strip() and buf.rstrip()[-1:] in _ENDS and n < 2:
            text = self.vet(buf, said, own=False)
            if text:
                said.by_model += 1
                yield text

    async def section(
        self,
        llm: LLM | None,
        plan: Plan,
        section: Section,
        *,
        name: str,
        note: str,
        said: Said,
        room_id: str,
        first_timeout: float,
        total_timeout: float,
    ) -> AsyncIterator[str]:
        """The model's sentences for a section it phrases; the code's own wording when it has
        none that pass (or is down). A code sentence already said is dropped, not repeated."""
        got = False
        if section.by_model and llm is not None:
            msgs = section_messages(plan, section, name, note)
            try:
                async for text in self.model_sentences(
                    llm,
                    msgs,
                    said=said,
                    room_id=room_id,
                    max_tokens=64 if plan.language == "zh" else 72,
                    first_timeout=first_timeout,
                    total_timeout=total_timeout,
                ):
                    got = True
                    yield text
            except LLMUnavailable:
                if got:
                    return
                raise
        if not got and section.fallback:
            text = self.vet(section.fallback, said, own=True)
            if text:
                yield text
