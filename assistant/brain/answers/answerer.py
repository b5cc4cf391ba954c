"""The answerer: one understood question in, a grounded, compliant, streamed answer (or a skip)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from assistant.brain.answers.facts import (
    catalog_numbers_text,
    catalog_prices,
    clarify,
    compare_text,
    facts_text,
    price_text,
    shop_text,
    stock_text,
    unknown,
)
from assistant.brain.answers.guard import numbers
from assistant.brain.answers.part import BrainPart
from assistant.brain.answers.prompts import answer_messages
from assistant.brain.answers.room import RoomContext
from assistant.brain.answers.select import pick_product, select_fact
from assistant.brain.answers.stream import Budget, ClauseGuard, FactMismatch, guarded_clauses
from assistant.brain.llm.base import LLM, LLMUnavailable
from assistant.brain.llm.settings import AnswerSettings
from assistant.catalog import Product
from assistant.compliance import Change, audit_output
from assistant.events import Answer, AnswerDelta, AnswerSource, ChatTriaged
from assistant.text import pieces
from assistant.understand.linker import KEY_NAMED
from assistant.understand.rules import PRICE_WORDS
from assistant.understand.text import han_chars
from assistant.understand.types import SHOP_INTENTS, LinkedFact, Understanding
from assistant.untrusted import display_name, handle, visible

log = logging.getLogger(__name__)
R = TypeVar("R")
_THANKS = {
    "zh": "@{name} 谢谢支持～有问题随时问我！",
    "en": "@{name} Thanks for being here! Ask me anything.",
}
_NOT_MINE = {"offtopic": "off_topic", "recommendation": "recommendation"}


@dataclass
class Outcome:
    status: Literal["answered", "skipped"]
    text: str
    source: AnswerSource
    flagged: bool
    sku: str | None
    reason: str | None = None
    first_token_s: float | None = None
    # The answer to publish once its status is stored (``Answerer.deliver``).
    event: Answer | None = None


@dataclass
class Draft:
    """What an answer states, built in code, before it is gated and streamed."""

    text: str
    source: AnswerSource
    product: Product | None = None
    flagged: bool = False
    changes: list[Change] = field(default_factory=list)


class Answerer(BrainPart[AnswerSettings]):
    async def answer(self, room: RoomContext, item: ChatTriaged, *, llm_ready: bool) -> Outcome:
        """Answer one triaged question, publish deltas and the answer, audit and store it."""
        t0 = time.perf_counter()
        reason = _NOT_MINE.get(item.intent)
        if reason is not None:  # recommend answers recommendations; off-topic goes unanswered
            return Outcome("skipped", "", "unknown", False, None, reason=reason)
        item = self._shown(item)
        draft = await self._draft(room, item, llm_ready)
        if (
            self.settings.phrase_with_llm
            and llm_ready
            and draft.source in ("facts", "shop")
            and draft.product is not None
        ):
            out = await self._phrase(room, item, draft, t0)
            if out is not None:
                return out
        return await self._emit(room, item, draft, t0)

    def _shown(self, item: ChatTriaged) -> ChatTriaged:
        """The line as the answer may show and say it: the asker's name replaced by a neutral
        handle when it sells, links, poses as staff or trips the gate; the question gated."""
        chat, lang = item.chat, item.understanding.language
        name = display_name(chat.user.name, chat.user.id, lang)
        if self.gate.scan(name):
            name = handle(chat.user.id, lang)
        user = chat.user.model_copy(update={"name": name})
        text = self.gate.rewrite(visible(chat.text)).text
        return item.model_copy(
            update={"chat": chat.model_copy(update={"user": user, "text": text})}
        )

    async def _draft(self, room: RoomContext, item: ChatTriaged, llm_ready: bool) -> Draft:
        u, name = item.understanding, item.chat.user.name
        lang, at = u.language, f"@{name} "
        products = [p for p in (room.catalog.get(s) for s in u.skus) if p is not None]
        if u.intent in ("greeting", "chitchat"):
            return Draft(_THANKS.get(lang, _THANKS["zh"]).format(name=name), "template")
        if not products and (u.ambiguous or (u.deictic and u.intent not in SHOP_INTENTS)):
            candidates = [p for p in (room.catalog.get(s) for s in u.ambiguous) if p is not None]
            return Draft(clarify(name, candidates, lang), "clarify")
        source: AnswerSource = "facts"
        if (
            not products
            and llm_ready
            and (u.intent not in SHOP_INTENTS or u.intent == "how_to_buy")
        ):
            picked = await self._pick(room, item)
            if picked is not None:  # names and meaning found nothing; the model read the name
                products, source = [picked], "llm"
        product = products[0] if products else None
        if u.intent in SHOP_INTENTS:
            faq = [f for f in self._strong(u, product) if f.kind == "faq"]
            if product is not None and faq:
                return Draft(at + facts_text(product, faq[:1], lang), source, product)
            text = shop_text(u.intent, room.catalog.shop, product, lang)
            return Draft(at + text, "shop", product) if text else self._unknown(name, lang, product)
        if product is None:
            return self._unknown(name, lang, None)
        strong = self._strong(u, product)
        # "什么时候补货" is in the FAQ, not the stock; "蛋白多少" names an attribute, not the price.
        named = [f for f in strong if f.kind == "faq" or f.score >= KEY_NAMED]
        if u.intent in ("price", "stock") and named:
            return Draft(at + facts_text(product, named[:1], lang), source, product)
        if u.intent == "price":
            return Draft(at + price_text(product, lang), source, product)
        if u.intent == "stock":
            return Draft(at + stock_text(product, lang), source, product)
        if u.intent == "compare" and len(products) >= 2:
            return await self._compare(room, item, products[:2], llm_ready)
        if strong:
            return Draft(at + facts_text(product, strong[:2], lang), source, product)
        if llm_ready:
            chosen = await self._select(room, item, product)
            if chosen is not None:
                return Draft(at + facts_text(product, [chosen], lang), "llm", product)
        return self._unknown(name, lang, product)

    async def _compare(
        self, room: RoomContext, item: ChatTriaged, products: list[Product], llm_ready: bool
    ) -> Draft:
        """Two products side by side on the fact asked (each one's own), or their prices."""
        u, name = item.understanding, item.chat.user.name
        pairs: list[tuple[Product, list[LinkedFact]]] = []
        for p in products:
            facts = self._strong(u, p)[:1]
            if not facts and PRICE_WORDS.search(item.chat.text) is None:
                chosen = await self._select(room, item, p) if llm_ready else None
                if chosen is None:
                    return self._unknown(name, u.language, products[0])
                facts = [chosen]
            pairs.append((p, facts))
        return Draft(f"@{name} " + compare_text(pairs, u.language), "facts", products[0])

    def _strong(self, u: Understanding, product: Product | None) -> list[LinkedFact]:
        """The product's linked facts that code may state without asking the model."""
        if product is None:
            return []
        facts = [f for f in u.facts if f.sku == product.sku]
        if not facts or facts[0].score < self.settings.fact_min_score:
            return []
        top = facts[0].score
        return [f for f in facts if f.score >= max(self.settings.fact_min_score, top - 0.05)]

    async def _select(
        self, room: RoomContext, item: ChatTriaged, product: Product
    ) -> LinkedFact | None:
        """The model's pick, stated only when the linking step also found that fact plausible:
        a small model picks a card's first lines whatever is asked (measured, see README)."""
        u, q = item.understanding, item.chat.text
        chosen = await self._ask_model(
            room, "select", lambda llm: select_fact(llm, product, q, u.language, room.room_id)
        )
        plausible = {
            (f.kind, f.index)
            for f in u.facts
            if f.sku == product.sku and f.score >= self.settings.fact_plausible_score
        }
        return chosen if chosen is not None and (chosen.kind, chosen.index) in plausible else None

    async def _pick(self, room: RoomContext, item: ChatTriaged) -> Product | None:
        """The model's product, kept only if its title shares a character with the line: a
        small model names some product for "那个零食还有货吗" whatever the list holds."""
        q, lang = item.chat.text, item.understanding.language
        picked = await self._ask_model(
            room, "pick", lambda llm: pick_product(llm, room.catalog, q, lang, room.room_id)
        )
        shared = picked is not None and bool(han_chars(picked.title) & han_chars(q))
        return picked if shared else None

    async def _ask_model(
        self, room: RoomContext, kind: str, call: Callable[[LLM], Awaitable[R]]
    ) -> R | None:
        """One grounded selection by the model, within the first-token budget; None on failure."""
        if self.llm is None or not self.settings.select_with_llm:
            return None
        try:
            async with asyncio.timeout(self.llm_settings.first_token_timeout_s):
                return await call(self.llm)
        except (LLMUnavailable, TimeoutError) as exc:
            self.metrics.llm_failed(kind, exc)
            log.warning("LLM %s failed in %s: %s", kind, room.room_id, exc)
            return None

    @staticmethod
    def _unknown(name: str, lang: str, product: Product | None) -> Draft:
        return Draft(unknown(name, lang), "unknown", product, flagged=True)

    async def _phrase(
        self, room: RoomContext, item: ChatTriaged, draft: Draft, t0: float
    ) -> Outcome | None:
        """LLM wording of a code-built answer, clause by clause through the fact guard; None
        (the caller sends the code's text) if it fails before saying anything."""
        assert self.llm is not None and draft.product is not None
        product, chat, s = draft.product, item.chat, self.llm_settings
        source = catalog_numbers_text(room.catalog, product) + "\n" + draft.text
        facts = f"{product.title}\n{draft.text}"  # short prompt: fast first token
        prefix = f"@{chat.user.name} "
        messages = answer_messages(item.understanding.language, facts, chat.text, chat.user.name)
        for attempt in range(self.settings.retries + 1):
            guard = ClauseGuard(
                source,
                self.gate,
                product.category,
                allowed_extra=numbers(chat.user.name),
                allowed_prices=catalog_prices(room.catalog, product),
            )
            draft.changes = guard.changes  # what the gate rewrote is audited with the answer
            budget = Budget(
                max_tokens=self.settings.max_answer_tokens,
                room_id=f"{room.room_id}/answer",
                first_timeout=s.first_token_timeout_s,
                total_timeout=s.timeout_s,
                temperature=None if attempt == 0 else 0.0,
            )
            sent: list[str] = []
            first: float | None = None
            try:
                async for clause in guarded_clauses(self.llm, messages, guard, budget):
                    piece = (prefix if not sent else "") + clause
                    first = first if first is not None else time.perf_counter() - t0
                    sent.append(piece)
                    await self.bus.publish(
                        AnswerDelta(room_id=room.room_id, chat_id=chat.id, delta=piece)
                    )
            except FactMismatch as exc:
                self.metrics.guard_rejections.inc()
                log.warning("fact guard rejected an answer in %s: %s", room.room_id, exc)
                if not sent and attempt < self.settings.retries:
                    continue
                return await self._finish(room, item, draft, first, t0) if sent else None
            except LLMUnavailable as exc:
                self.metrics.llm_failed(type(exc).__name__, exc)
                log.warning("LLM failed answering in %s: %s", room.room_id, exc)
                return await self._finish(room, item, draft, first, t0) if sent else None
            if not sent:
                return None
            phrased = Draft("".join(sent), "llm", product, changes=draft.changes)
            return await self._finish(room, item, phrased, first, t0)
        return None

    async def _emit(self, room: RoomContext, item: ChatTriaged, draft: Draft, t0: float) -> Outcome:
        """Gate the code's text clause by clause and stream it."""
        category = draft.product.category if draft.product is not None else None
        sent: list[str] = []
        first: float | None = None
        for piece in pieces(draft.text) or [draft.text]:
            rw = self.gate.rewrite(piece, category=category)
            draft.changes += rw.changes
            if not rw.text.strip():
                continue
            first = first if first is not None else time.perf_counter() - t0
            sent.append(rw.text)
            await self.bus.publish(
                AnswerDelta(room_id=room.room_id, chat_id=item.chat.id, delta=rw.text)
            )
        if sent:
            draft.text = "".join(sent)
        else:
            draft = self._unknown(item.chat.user.name, item.understanding.language, draft.product)
        return await self._finish(room, item, draft, first, t0)

    async def _finish(
        self, room: RoomContext, item: ChatTriaged, draft: Draft, first: float | None, t0: float
    ) -> Outcome:
        """Audit the compliance changes and build the answer; ``deliver`` publishes it."""
        chat, text = item.chat, draft.text
        await audit_output(self.store, room.room_id, text, draft.changes, source="answer",
                           ref=chat.id, counter=self.metrics.compliance_changes)  # fmt: skip
        sku = draft.product.sku if draft.product is not None else None
        event = Answer(
            room_id=room.room_id,
            chat_id=chat.id,
            text=text,
            question=chat.text,
            user_ids=[chat.user.id],
            sku=sku,
            source=draft.source,
            flagged=draft.flagged,
        )
        self.metrics.answers.labels(draft.source).inc()
        if first is not None:
            self.metrics.first_token.labels(draft.source).observe(first)
        return Outcome(
            "answered", text, draft.source, draft.flagged, sku, first_token_s=first, event=event
        )

    async def deliver(self, out: Outcome) -> None:
        """Publish an answer whose status is already stored, and keep it in the room's history:
        a crash before this line loses the answer, never repeats it."""
        if out.event is not None:
            await self.bus.publish(out.event)
            await self.store.add_output(
                out.event.room_id,
                "answer",
                out.event.model_dump(mode="json"),
                ref=out.event.chat_id,
            )
