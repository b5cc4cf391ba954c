"""Sales scripts: the product card, what's on screen and recent questions, phrased by the LLM."""

from __future__ import annotations

import logging
import re
from collections import Counter

from assistant.answers.facts import (
    catalog_numbers_text,
    catalog_prices,
    price_text,
    product_card,
    stock_text,
)
from assistant.answers.part import BrainPart
from assistant.answers.prompts import sanitize
from assistant.answers.room import RoomContext
from assistant.answers.stream import FactMismatch, guarded_clauses
from assistant.catalog import Product
from assistant.compliance import Change, Rewrite, audit
from assistant.events import Script, ScriptDelta, ScriptRequest
from assistant.llm.base import LLMUnavailable, Message
from assistant.llm.settings import ScriptSettings
from assistant.scripts.variation import containment, sentences

log = logging.getLogger(__name__)
_STYLE = {
    "energetic": ("热情、有感染力、节奏快", "energetic, upbeat, fast-paced"),
    "gentle": ("温柔、亲切、娓娓道来", "gentle, warm and calm"),
    "professional": ("专业、客观、讲清参数", "professional, factual, spec-focused"),
}
_META = re.compile(
    r"[<>{}]|facts|事实|注意[:：]|口播稿|script:|prompt|以下是|here is|主播名|\[name\]", re.I
)
_MARKUP = re.compile(r"\*+|#+\s*|【[^】]{0,8}(预告|标题|开场|结尾)】")
_SPECS = ("尺寸规格", "the size and specs")
_SHIPPING = ("发货和退换", "shipping and returns")
# What viewers keep asking, by the understanding step's intent, as the script should address it.
_TOPIC = {
    "spec": _SPECS,
    "size_advice": _SPECS,
    "price": ("价格", "the price"),
    "stock": ("库存", "stock"),
    "how_to_buy": ("怎么下单", "how to order"),
    "shipping": _SHIPPING,
    "returns": _SHIPPING,
    "after_sales": _SHIPPING,
    "usage": ("使用方法", "how to use it"),
}


class ScriptWriter(BrainPart[ScriptSettings]):
    async def _context(
        self, room: RoomContext, product: Product, lang: str
    ) -> tuple[str, list[str]]:
        lines: list[str] = []
        v = room.vision
        if v is not None:
            seen = ", ".join(f"{k} x{n}" for k, n in v.counts.items())
            if seen:
                lines.append(("画面中看到: " if lang == "zh" else "on screen: ") + seen)
            if v.ocr_lines:
                lines.append("screen text: " + sanitize(" / ".join(v.ocr_lines[:5]), 120))
        chats = await self.store.chats(room.room_id, limit=self.settings.recent_questions * 5)
        topics = Counter(
            _TOPIC[c.intent]
            for c in chats[-self.settings.recent_questions :]
            if c.intent in _TOPIC and c.chat.role == "viewer"
        )
        for (zh, en), n in topics.most_common(2):
            if n < 2:
                continue
            topic = zh if lang == "zh" else en
            lines.append(
                f"很多观众在问{topic}（{n}条）"
                if lang == "zh"
                else f"{n} viewers asked about {topic}"
            )
        prev = [
            o["text"]
            for o in await self.store.outputs(room.room_id, "script", limit=50)
            if o.get("sku") == product.sku
        ][-self.settings.history :]
        return "\n".join(lines), prev

    def template(self, product: Product, lang: str, context: str, n_prev: int) -> str:
        """A clearly labelled script from the card alone (the LLM is down or said too little)."""
        points = product.selling_points or [product.description]
        k = n_prev % max(len(points), 1)
        points = points[k:] + points[:k]
        if lang == "en":
            head = "[Template script] "
            body = [
                f"Now on stage: {product.title_en or product.title}.",
                *[p + "." for p in points[:3]],
                price_text(product, lang),
                stock_text(product, lang),
            ]
        else:
            head = "【模板话术】"
            body = [
                f"现在给大家介绍的是{product.title}。",
                *[p + "。" for p in points[:3]],
                price_text(product, lang),
                stock_text(product, lang),
            ]
        return head + " ".join(body) if lang == "en" else head + "".join(body)

    def _messages(
        self, product: Product, lang: str, style: str, seconds: int, context: str, prev: list[str]
    ) -> list[Message]:
        chars = seconds * (4 if lang == "zh" else 12)
        zh_style, en_style = _STYLE.get(style, _STYLE["energetic"])
        # a small model copies a quoted previous script, so vary the focus instead (and filter
        # the output against the previous scripts by n-gram overlap)
        angles = product.selling_points + [f"{k}{v}" for k, v in product.attributes.items()]
        k = (2 * len(prev)) % max(len(angles), 1)
        focus = "；".join((angles[k:] + angles[:k])[:2]) if prev and angles else ""
        card = product_card(product, lang)
        if lang == "zh":
            system = (
                "你是直播带货主播，用口语写直播间口播稿。只用商品信息里的事实，不编造价格、数字和功效，"
                "不用“最”“第一”“国家级”等绝对化用语。只输出口播稿正文，不要标题、标签和说明。"
            )
            user = f"商品信息：\n{card}\n{context}\n\n风格：{zh_style}。长度约{chars}字。"
            if focus:
                user += f"\n这次重点讲：{focus}。开场白换一种新说法。"
        else:
            system = (
                "You are a live-shopping host writing your spoken script. Use only the facts "
                "in the product information; never invent prices, numbers or effects; "
                "no superlatives. "
                "Output only the script itself: no title, tags or notes."
            )
            user = (
                f"Product information:\n{card}\n{context}\n\n"
                f"Style: {en_style}. About {chars} characters."
            )
            if focus:
                user += f"\nThis time focus on: {focus}. Open with a fresh line."
        return [Message(role="system", content=system), Message(role="user", content=user)]

    async def write(self, room: RoomContext, req: ScriptRequest) -> Script | None:
        product = (room.catalog.get(req.sku) if req.sku else None) or room.stage_product
        if product is None and room.catalog.products:
            product = room.catalog.products[0]
        if product is None:
            return None
        lang = req.language or room.language
        context, prev = await self._context(room, product, lang)
        changes: list[Change] = []
        sent: list[str] = []
        fallback = self.llm is None
        if self.llm is not None:
            try:
                await self._llm_script(room, req, product, lang, context, prev, changes, sent)
            except LLMUnavailable as exc:
                self.metrics.llm_failed(type(exc).__name__, exc)
                log.warning("LLM failed on a script in %s: %s", room.room_id, exc)
            fallback = len("".join(sent)) < 20
        if fallback:
            text = self.template(product, lang, context, len(prev))
            rw = self.gate.rewrite(text, category=product.category)
            changes += rw.changes
            sent.append(rw.text)
            await self.bus.publish(
                ScriptDelta(room_id=room.room_id, request_id=req.id, sku=product.sku, delta=rw.text)
            )
        text = "".join(sent)
        await audit(
            self.store,
            room.room_id,
            Rewrite(text=text, changes=changes),
            source="script",
            ref=req.id,
        )
        self.metrics.compliance_changes.labels("script").inc(len(changes))
        script = Script(
            room_id=room.room_id,
            request_id=req.id,
            sku=product.sku,
            text=text,
            style=req.style,
            fallback=fallback,
        )
        await self.bus.publish(script)
        body = script.model_dump(mode="json") | {"overlap": containment(text, prev)}
        await self.store.add_output(room.room_id, "script", body, ref=req.id)
        self.metrics.scripts.labels(str(fallback).lower()).inc()
        return script

    async def _llm_script(
        self,
        room: RoomContext,
        req: ScriptRequest,
        product: Product,
        lang: str,
        context: str,
        prev: list[str],
        changes: list[Change],
        sent: list[str],
    ) -> None:
        assert self.llm is not None
        s = self.llm_settings
        allowed = {str(n) for n in (room.vision.counts.values() if room.vision else [])}
        msgs = self._messages(product, lang, req.style, req.seconds, context, prev)
        max_tokens = min(self.settings.max_tokens, req.seconds * 6)
        buf = ""
        try:
            async for clause in guarded_clauses(
                self.llm,
                msgs,
                source=catalog_numbers_text(room.catalog, product) + context,
                gate=self.gate,
                category=product.category,
                changes=changes,
                max_tokens=max_tokens,
                room_id=f"{room.room_id}/script",
                first_timeout=self.settings.first_token_timeout_s,
                total_timeout=max(s.timeout_s, req.seconds * 2.0),
                allowed_extra=allowed,
                allowed_prices=catalog_prices(room.catalog, product),
                temperature=0.8,
            ):
                buf += clause
                done = sentences(buf)
                if not done or buf.rstrip()[-1:] not in "。！？!?.":
                    continue
                buf = ""
                for sentence in done:
                    sentence = _MARKUP.sub("", sentence).strip()
                    if not sentence or _META.search(sentence):
                        continue  # markup or talk about the prompt, not a line to say
                    if prev and containment(sentence, prev) > self.settings.max_overlap:
                        continue  # a sentence the previous scripts already said
                    sent.append(sentence)
                    await self.bus.publish(
                        ScriptDelta(
                            room_id=room.room_id, request_id=req.id, sku=product.sku, delta=sentence
                        )
                    )
        except FactMismatch as exc:
            self.metrics.guard_rejections.inc()
            log.warning("fact guard stopped a script in %s: %s", room.room_id, exc)
            return  # the unfinished sentence goes with the bad clause
        tail = _MARKUP.sub("", buf).strip()
        if tail and not sent and not _META.search(tail):  # an unfinished sentence only if alone
            sent.append(tail)
            await self.bus.publish(
                ScriptDelta(room_id=room.room_id, request_id=req.id, sku=product.sku, delta=tail)
            )
