"""The answerer: one question in, a grounded, compliant, streamed answer (or a skip) out."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

from assistant.answers.facts import (
    catalog_numbers_text,
    catalog_prices,
    fact_answer,
    unknown,
)
from assistant.answers.guard import numbers
from assistant.answers.intent import IntentGuess, keyword_intent, resolve_product
from assistant.answers.part import BrainPart
from assistant.answers.prompts import answer_messages, intent_messages
from assistant.answers.retrieval import without_name
from assistant.answers.room import RoomContext
from assistant.answers.stream import FactMismatch, guarded_clauses
from assistant.catalog import Product
from assistant.compliance import Change, Rewrite, audit
from assistant.events import Answer, AnswerDelta, ChatTriaged
from assistant.llm.base import LLMUnavailable
from assistant.llm.settings import AnswerSettings

log = logging.getLogger(__name__)
_PIECES = re.compile(r"[^。！？；，!?;,]+[。！？；，!?;,]?")
_THANKS = {
    "zh": "@{name} 谢谢支持～有问题随时问我！",
    "en": "@{name} Thanks for being here! Ask me anything.",
}


@dataclass
class Outcome:
    status: str  # answered | skipped
    text: str
    source: str
    flagged: bool
    sku: str | None
    reason: str | None = None
    first_token_s: float | None = None


class Answerer(BrainPart[AnswerSettings]):
    async def classify(self, text: str, hint: str, room_id: str) -> str:
        intent = keyword_intent(text)
        if intent is not None:
            return intent
        if self.llm is not None and self.settings.llm_intent:
            try:
                guess = await asyncio.wait_for(
                    self.llm.structured(intent_messages(text), IntentGuess, room_id=room_id),
                    self.llm_settings.first_token_timeout_s,
                )
                return guess.intent
            except (LLMUnavailable, TimeoutError) as exc:
                self.metrics.llm_failed("intent", exc)
                log.warning("intent LLM failed: %s", exc)
        return hint if hint in {"price", "stock", "spec", "shipping"} else "usage"

    async def answer(self, room: RoomContext, item: ChatTriaged) -> Outcome:
        """Answer one triaged question, publish deltas and the answer, audit and store it."""
        chat, t0 = item.chat, time.perf_counter()
        lang, name = room.language, chat.user.name
        intent = await self.classify(chat.text, item.intent, room.room_id)
        if intent == "offtopic":
            return Outcome("skipped", "", "unknown", False, None, reason="off_topic")
        product = resolve_product(chat.text, room.catalog, room.stage_sku)
        sku = product.sku if product else None
        category = product.category if product else None
        if intent == "chitchat":
            text = _THANKS.get(lang, _THANKS["zh"]).format(name=name)
            return await self._emit(room, item, [text], "template", False, sku, category, t0)
        if intent == "recommendation" and self.llm is not None:
            card = "\n".join(f"{p.title}: {p.price:g} CNY" for p in room.catalog.products[:12])
            out = await self._phrase(room, item, card, None, category, t0)
            if out is not None:
                return out
        query = without_name(chat.text, product.title) if product is not None else chat.text
        hits = await room.search_faq(query, sku)
        fact = fact_answer(
            intent=intent,
            question=chat.text,
            product=product,
            faq=hits[0] if hits else None,
            name=name,
            lang=lang,
            faq_min=self.settings.embedding_min_score
            if room.retriever.name.startswith("embedder")
            else self.settings.retrieval_min_score,
        )
        if not fact.known:
            return await self._emit(room, item, [fact.text], "unknown", True, sku, category, t0)
        if self.settings.phrase_with_llm and self.llm is not None and product is not None:
            title = product.title_en or product.title if lang == "en" else product.title
            facts = f"{title}\n" + "\n".join(fact.facts)  # short prompt: fast first token
            out = await self._phrase(room, item, facts, product, category, t0, fallback=fact.text)
            if out is not None:
                return out
        pieces = _PIECES.findall(fact.text) or [fact.text]
        return await self._emit(room, item, pieces, "facts", False, sku, category, t0)

    async def _phrase(
        self,
        room: RoomContext,
        item: ChatTriaged,
        facts: str,
        product: Product | None,
        category: str | None,
        t0: float,
        fallback: str | None = None,
    ) -> Outcome | None:
        """LLM wording, clause by clause; None (caller falls back) if it fails before speaking."""
        assert self.llm is not None
        sku = product.sku if product is not None else None
        source = catalog_numbers_text(room.catalog, product)
        money = catalog_prices(room.catalog, product)
        chat, s = item.chat, self.llm_settings
        prefix = f"@{chat.user.name} "
        extra = numbers(chat.user.name)
        for attempt in range(self.settings.retries + 1):
            changes: list[Change] = []
            sent: list[str] = []
            first: float | None = None
            try:
                msgs = answer_messages(room.language, facts, chat.text, chat.user.name)
                async for clause in guarded_clauses(
                    self.llm,
                    msgs,
                    source=source,
                    gate=self.gate,
                    category=category,
                    changes=changes,
                    max_tokens=self.settings.max_answer_tokens,
                    room_id=f"{room.room_id}/answer",
                    first_timeout=s.first_token_timeout_s,
                    total_timeout=s.timeout_s,
                    allowed_extra=extra,
                    allowed_prices=money,
                    temperature=None if attempt == 0 else 0.0,
                ):
                    piece = (prefix if not sent else "") + clause
                    if first is None:
                        first = time.perf_counter() - t0
                    sent.append(piece)
                    await self.bus.publish(
                        AnswerDelta(room_id=room.room_id, chat_id=chat.id, delta=piece)
                    )
            except FactMismatch as exc:
                self.metrics.guard_rejections.inc()
                log.warning("fact guard rejected an answer in %s: %s", room.room_id, exc)
                if not sent and attempt < self.settings.retries:
                    continue
                if fallback is None:
                    if not sent:
                        return None
                    text = unknown(chat.user.name, room.language)
                    return await self._emit(room, item, [text], "unknown", True, sku, category, t0)
                return await self._finish(
                    room, item, fallback, "template", False, sku, changes, first, t0
                )
            except LLMUnavailable as exc:
                self.metrics.llm_failed(type(exc).__name__, exc)
                log.warning("LLM failed answering in %s: %s", room.room_id, exc)
                if not sent:
                    return None
                return await self._finish(
                    room,
                    item,
                    fallback or "".join(sent),
                    "template",
                    False,
                    sku,
                    changes,
                    first,
                    t0,
                )
            if not sent:
                return None
            return await self._finish(
                room, item, "".join(sent), "llm", False, sku, changes, first, t0
            )
        return None

    async def _emit(
        self,
        room: RoomContext,
        item: ChatTriaged,
        pieces: list[str],
        source: str,
        flagged: bool,
        sku: str | None,
        category: str | None,
        t0: float,
    ) -> Outcome:
        changes: list[Change] = []
        sent: list[str] = []
        first: float | None = None
        for piece in pieces:
            rw = self.gate.rewrite(piece, category=category)
            changes += rw.changes
            if not rw.text.strip():
                continue
            if first is None:
                first = time.perf_counter() - t0
            sent.append(rw.text)
            await self.bus.publish(
                AnswerDelta(room_id=room.room_id, chat_id=item.chat.id, delta=rw.text)
            )
        text = "".join(sent) or unknown(item.chat.user.name, room.language)
        return await self._finish(room, item, text, source, flagged, sku, changes, first, t0)

    async def _finish(
        self,
        room: RoomContext,
        item: ChatTriaged,
        text: str,
        source: str,
        flagged: bool,
        sku: str | None,
        changes: list[Change],
        first: float | None,
        t0: float,
    ) -> Outcome:
        chat = item.chat
        await audit(
            self.store,
            room.room_id,
            Rewrite(text=text, changes=changes),
            source="answer",
            ref=chat.id,
        )
        self.metrics.compliance_changes.labels("answer").inc(len(changes))
        event = Answer(
            room_id=room.room_id,
            chat_id=chat.id,
            text=text,
            question=chat.text,
            user_ids=[chat.user.id],
            sku=sku,
            source=source,
            flagged=flagged,
        )
        await self.bus.publish(event)
        await self.store.add_output(
            room.room_id, "answer", event.model_dump(mode="json"), ref=chat.id
        )
        self.metrics.answers.labels(source).inc()
        if first is not None:
            self.metrics.first_token.labels(source).observe(first)
        return Outcome("answered", text, source, flagged, sku, first_token_s=first)
