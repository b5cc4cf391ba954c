"""Sales scripts: a plan from the card, phrased a section at a time, streamed by sentence."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from assistant.approved import Approved, ApprovedScript
from assistant.brain.answers.facts import catalog_numbers_text, short_name
from assistant.brain.answers.part import BrainPart
from assistant.brain.answers.prompts import sanitize
from assistant.brain.answers.room import RoomContext
from assistant.brain.llm.base import LLM, LLMUnavailable
from assistant.brain.llm.settings import ScriptSettings
from assistant.brain.scripts.checks import backed_prices, backing_text
from assistant.brain.scripts.compose import Composer, Said, system_message
from assistant.brain.scripts.plan import Plan, Rotation, Section, build_plan, card_lines
from assistant.catalog import Product
from assistant.compliance import audit_output
from assistant.events import (
    Script,
    ScriptApprove,
    ScriptApproved,
    ScriptDelta,
    ScriptRequest,
    ScriptSection,
)
from assistant.repeats import Repeats, containment
from assistant.text import sentences

log = logging.getLogger(__name__)
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
# Kept in a shortened script: the hook, the first thing said about the product, price and call.
_SHORT_KEEP = 2


@dataclass(frozen=True)
class Job:
    """One script being written: for whom, from what, and what it said so far (``said``)."""

    room: RoomContext
    req: ScriptRequest
    product: Product
    plan: Plan
    said: Said
    recent: list[str]  # the product's recent scripts, which this one must not repeat
    started: float


class ScriptWriter(BrainPart[ScriptSettings]):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def _context(self, room: RoomContext, lang: str) -> str:
        """What the room shows and asks, as a note for the model's first section."""
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
            if n >= 2:
                lines.append(
                    f"很多观众在问{zh}（{n}条）"
                    if lang == "zh"
                    else f"{n} viewers asked about {en}"
                )
        return "".join(line + "\n" for line in lines)

    async def _history(self, room_id: str, sku: str, lang: str) -> list[dict[str, Any]]:
        """The product's earlier scripts in this language, oldest first."""
        outputs = await self.store.outputs(room_id, "script", limit=200)
        return [
            o
            for o in outputs
            if o["sku"] == sku and o.get("plan", {}).get("language", lang) == lang
        ]

    def target_chars(self, seconds: int, lang: str) -> int:
        """How much text fills ``seconds`` at the voice's measured speaking rate."""
        return round(seconds * self.settings.chars_per_second.get(lang, 4.5))

    def _composer(self, room: RoomContext, product: Product) -> Composer:
        counts = room.vision.counts.values() if room.vision else []
        shop = room.catalog.shop
        return Composer(
            self.gate,
            category=product.category,
            source=catalog_numbers_text(room.catalog, product) + "\n" + backing_text(product, shop),
            prices=backed_prices(product, shop),
            extra_numbers={str(n) for n in counts} | {str(product.link or "")},
        )

    async def prime(self, lang: str, style: str, room_id: str) -> None:
        """Evaluate a style's static instructions ahead of the first script that needs them."""
        if self.llm is not None:
            await self.llm.prime([system_message(lang, style)], room_id=f"{room_id}/script")

    async def approve(self, room: RoomContext, ev: ScriptApprove) -> None:
        """Keep (or withdraw) a script the host approved, for the anchor to speak verbatim."""
        outputs = await self.store.outputs(room.room_id, "script", limit=500)
        out = next((o for o in outputs if o["request_id"] == ev.request_id), None)
        if out is None or not out.get("sku"):
            log.warning("room %s: no script %s to approve", room.room_id, ev.request_id)
            return
        approved = await Approved.load(self.store, room.room_id)
        script = ApprovedScript(request_id=ev.request_id, text=out["text"])
        approved.set(out["sku"], script, ev.approved)
        await approved.save(self.store, room.room_id)
        await self.bus.publish(
            ScriptApproved(
                room_id=room.room_id,
                request_id=ev.request_id,
                sku=out["sku"],
                approved=ev.approved,
            )
        )

    async def write(self, room: RoomContext, req: ScriptRequest) -> Script | None:
        product = (room.catalog.get(req.sku) if req.sku else None) or room.stage_product
        if product is None and room.catalog.products:
            product = room.catalog.products[0]
        if product is None:
            return None
        # Two scripts of one product at once would read the same history and say the same lines.
        lock = self._locks.setdefault((room.room_id, product.sku), asyncio.Lock())
        async with lock:
            return await self._write(room, req, product)

    async def _write(
        self, room: RoomContext, req: ScriptRequest, product: Product
    ) -> Script | None:
        lang: Literal["zh", "en"] = req.language or room.language  # type: ignore[assignment]
        history = await self._history(room.room_id, product.sku, lang)
        base = next((o for o in history if o["request_id"] == req.base), None)
        if req.action != "write" and base is None:
            log.warning("script %s: no script %s of %s to edit", req.id, req.base, product.sku)
            return None
        recent = [o["text"] for o in history][-self.settings.history :]
        said = Said(Repeats(s for text in recent for s in sentences(text)))
        if base is not None:
            plan = Plan.model_validate(base["plan"])
            kept = [ScriptSection.model_validate(s) for s in base["sections"]]
        else:
            plan = build_plan(
                product,
                room.catalog.shop,
                lang=lang,
                style=req.style,
                target_chars=self.target_chars(req.seconds, lang),
                turn=Plan.model_validate(history[-1]["plan"]).next_turn if history else Rotation(),
                model_sections=self.settings.model_sections if self.llm is not None else 0,
            )
            kept = []
        job = Job(room, req, product, plan, said, recent, started=time.monotonic())
        return await self._finish(job, await self._sections(job, kept))

    async def _sections(self, job: Job, kept: list[ScriptSection]) -> list[ScriptSection]:
        """Each section of the plan in order: kept as it was, dropped (shorten), or written."""
        room, req, product, plan, said = job.room, job.req, job.product, job.plan, job.said
        note = await self._context(room, plan.language) if req.action == "write" else ""
        name = short_name(product, plan.language)
        middle = [i for i, s in enumerate(plan.sections) if s.kind in ("point", "proof")]
        tail = sum(len(s.fallback) for s in plan.sections if s.kind in ("price", "cta"))
        out: list[ScriptSection] = []
        for i, section in enumerate(plan.sections):
            old = next((k for k in kept if k.index == i), None)
            if req.action == "shorten":
                if old is not None and (i not in middle or middle.index(i) < _SHORT_KEEP):
                    out.append(old)
                continue
            if old is not None and (req.action != "regenerate" or req.section != i):
                out.append(old)
                said.repeats.add(old.text)
                continue
            if old is not None:
                said.repeats.add(old.text)  # the new version must differ from the old one
            elif i in middle:
                ahead = self._length(out) + tail + plan.expected_chars(section) // 2
                if ahead >= plan.target_chars:
                    continue  # long enough: the rest of the card waits for the next script
                said.planned.append(i)
            texts: list[str] = []
            async for text in self._section(job, section, name=name, note=note):
                texts.append(text)
                await self.bus.publish(
                    ScriptDelta(
                        room_id=room.room_id,
                        request_id=req.id,
                        sku=product.sku,
                        delta=text,
                        section=i,
                    )
                )
            if section.by_model:
                note = ""  # the room's context goes to the first part the model phrases
            if texts:
                out.append(ScriptSection(index=i, kind=section.kind, text="".join(texts)))
            elif old is not None:
                out.append(old)  # nothing new passed the checks: the host keeps the old words
        return out

    async def _section(
        self, job: Job, section: Section, *, name: str, note: str
    ) -> AsyncIterator[str]:
        room, plan = job.room, job.plan
        llm: LLM | None = self.llm
        composer = self._composer(room, job.product)
        kw: dict[str, Any] = {
            "name": name,
            "note": note,
            "said": job.said,
            "room_id": f"{room.room_id}/script",
            "first_timeout": self.settings.first_token_timeout_s,
            "total_timeout": self.settings.section_timeout_s,
        }
        try:
            async for text in composer.section(llm, plan, section, **kw):
                yield text
        except LLMUnavailable as exc:
            self.metrics.llm_failed(type(exc).__name__, exc)
            log.warning("LLM failed on a script section in %s: %s", room.room_id, exc)
            async for text in composer.section(None, plan, section, **kw):
                yield text

    @staticmethod
    def _length(sections: list[ScriptSection]) -> int:
        return sum(len(s.text) for s in sections)

    async def _finish(self, job: Job, sections: list[ScriptSection]) -> Script:
        room, req, product, plan, said = job.room, job.req, job.product, job.plan, job.said
        joiner = " " if plan.language == "en" else ""
        text = joiner.join(s.text for s in sections)
        await audit_output(self.store, room.room_id, text, said.changes, source="script",
                           ref=req.id, counter=self.metrics.compliance_changes)  # fmt: skip
        fallback = said.by_model == 0 and req.action == "write"
        script = Script(
            room_id=room.room_id,
            request_id=req.id,
            sku=product.sku,
            text=text,
            style=plan.style,
            fallback=fallback,
            sections=sections,
            base=req.base,
        )
        # Counted before it is seen: whoever sees the script finds it counted.
        self.metrics.scripts.labels(str(fallback).lower()).inc()
        await self.bus.publish(script)
        if req.action == "write":  # an edit keeps its base's place in the rotation
            plan = plan.model_copy(
                update={
                    "next_turn": plan.after(said.planned, len(card_lines(product, plan.language)))
                }
            )
        body = script.model_dump(mode="json") | {
            "plan": plan.model_dump(mode="json"),
            "overlap": containment(text, job.recent),
            "rejected": said.rejected,
            "compliance_changes": len(said.changes),
            "seconds_taken": round(time.monotonic() - job.started, 3),
        }
        await self.store.add_output(room.room_id, "script", body, ref=req.id)
        return script
