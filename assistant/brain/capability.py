"""The brain capability: answers viewers' questions and writes host scripts for every room."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.brain.answers.answerer import Answerer, Outcome
from assistant.brain.answers.metrics import BrainMetrics
from assistant.brain.answers.room import RoomContext
from assistant.brain.answers.select import prime
from assistant.brain.llm import LLM, create_llm
from assistant.brain.llm.base import LLMUnavailable
from assistant.brain.llm.settings import AnswerSettings, LLMSettings, ScriptSettings
from assistant.brain.scripts.writer import ScriptWriter
from assistant.bus import BusUnavailable
from assistant.catalog import Product
from assistant.compliance import ComplianceGate
from assistant.events import (
    CatalogUpdated,
    ChatTriaged,
    ScriptApprove,
    ScriptRequest,
    StageChanged,
    VisionUpdate,
)
from assistant.plugins import CapabilityStatus
from assistant.tasks import TaskSet

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.bus import Listener
    from assistant.events import Event
    from assistant.plugins import RoomInfo, Services

log = logging.getLogger(__name__)
RECENT_FAILURE_S = 60.0


class Brain:
    """Owns the shared LLM, one answer loop per room and the script tasks."""

    name = "brain"

    def __init__(
        self,
        services: Services,
        *,
        llm: LLM | None = None,
        gate: ComplianceGate | None = None,
        llm_settings: LLMSettings | None = None,
        answer_settings: AnswerSettings | None = None,
        script_settings: ScriptSettings | None = None,
    ) -> None:
        self.services = services
        s = services.settings
        self.llm_settings = llm_settings or s.llm
        self.answer_settings = answer_settings or s.answers
        self.script_settings = script_settings or s.scripts
        self.gate = gate or services.compliance
        self._own_llm = llm is None  # an injected model is shared: its owner closes it
        self.llm = llm if llm is not None else create_llm(self.llm_settings, Path(s.model_dir))
        self.metrics = BrainMetrics(services.registry)
        common: dict[str, Any] = {
            "bus": services.bus,
            "store": services.store,
            "llm": self.llm,
            "gate": self.gate,
            "llm_settings": self.llm_settings,
            "metrics": self.metrics,
        }
        self.answerer = Answerer(settings=self.answer_settings, **common)
        self.writer = ScriptWriter(settings=self.script_settings, **common)
        self.rooms: dict[str, RoomContext] = {}
        self._tasks = TaskSet()
        self._subs: list[Listener] = []
        self._warm: asyncio.Task[None] | None = None

    def router(self) -> APIRouter | None:
        return None

    def _recently_failed(self) -> bool:
        last = self.metrics.last_llm_failure
        return last is not None and time.time() - last[0] < RECENT_FAILURE_S

    def llm_ready(self) -> bool:
        """Loaded and not failing lately: only then may an answer wait on the model."""
        warm = self._warm is not None and self._warm.done()
        return self.llm is not None and warm and not self._recently_failed()

    def status(self, room_id: str) -> CapabilityStatus | None:
        if room_id not in self.rooms:
            return None
        s = self.llm_settings
        model = s.model if s.backend == "openai" else s.preset
        last = self.metrics.last_llm_failure
        recent = self._recently_failed()
        loading = self._warm is not None and not self._warm.done()
        if self.llm is None:
            detail = "no LLM: answers come from the catalog and templates"
        elif loading:
            detail = "LLM loading"
        else:
            detail = f"LLM failing: {last[1]}" if recent and last else "LLM ready"
        return CapabilityStatus(
            name="llm",
            ok=self.llm is not None and not recent and not loading,
            detail=detail,
            info={
                "backend": s.backend,
                "model": model,
                "select_facts": self.answer_settings.select_with_llm,
                "phrase_answers": self.answer_settings.phrase_with_llm,
                "failures": self.metrics.llm_failure_count,
                "last_failure": last[1] if last else None,
            },
        )

    def readiness(self) -> CapabilityStatus:
        loading = self._warm is not None and not self._warm.done()
        detail = "LLM loading" if loading else "LLM loaded" if self.llm else "no LLM"
        return CapabilityStatus(name="llm", ok=not loading, detail=detail)

    async def _warm_llm(self) -> None:
        assert self.llm is not None
        try:
            await self.llm.start()
        except LLMUnavailable as exc:
            self.metrics.llm_failed("start", exc)
            log.warning("the LLM is not ready: %s", exc)
            return
        for ctx in list(self.rooms.values()):
            self._tasks.spawn(self._prime(ctx), f"brain-prime-{ctx.room_id}")
        self._tasks.spawn(self._prime_scripts(), "brain-prime-scripts")

    async def _prime_scripts(self) -> None:
        """Every script section starts from its style's instructions: evaluate them once now."""
        langs = dict.fromkeys(ctx.language for ctx in self.rooms.values())
        try:
            for lang in langs:
                for style in ("energetic", "gentle", "professional"):
                    await self.writer.prime(lang, style, "brain")
        except LLMUnavailable as exc:
            log.warning("could not prime the script prompts: %s", exc)

    async def _prime(self, ctx: RoomContext, product: Product | None = None) -> None:
        """Evaluate the prompts the grounded selection starts from, in the background, a chunk
        at a time: the room's catalog index and every product card (or just the card of the
        product put on stage). The first question that needs the model then finds them warm."""
        if self.llm is None or not self.answer_settings.select_with_llm:
            return
        lane = f"{ctx.room_id}/prime"
        catalog = ctx.catalog
        stage = ctx.stage_product
        todo = [product] if product is not None else [None, stage, *catalog.products]
        try:
            for item in dict.fromkeys(todo):
                await prime(self.llm, catalog, ctx.language, lane, item)
        except LLMUnavailable as exc:
            log.warning("could not prime the model for %s: %s", ctx.room_id, exc)

    async def open_room(self, room: RoomInfo) -> None:
        if room.room_id in self.rooms:
            return
        if self.llm is not None and self._warm is None:
            # Load the model now, not on the first script a host asks for.
            self._warm = self._tasks.spawn(self._warm_llm(), "brain-llm-warm")
        ctx = RoomContext(room.room_id, room.language, room.catalog, self.services.stage)
        self.rooms[room.room_id] = ctx
        if self.llm_ready():
            self._tasks.spawn(self._prime(ctx), f"brain-prime-{room.room_id}")
        types = ["vision.update", "catalog.updated", "script.request", "script.approve", "stage"]
        self._subs.append(await self.services.bus.on(room.room_id, self._on_event, types))
        supervised = self.services.supervisor.run(
            functools.partial(self._answer_loop, ctx),
            name="answers",
            capability=self.name,
            room_id=room.room_id,
        )
        self._tasks.spawn(supervised, f"brain-answers-{room.room_id}")

    async def _on_event(self, event: Event) -> None:
        ctx = self.rooms.get(event.room_id)
        if ctx is None:
            return
        if isinstance(event, VisionUpdate):
            ctx.vision = event
        elif isinstance(event, CatalogUpdated):
            ctx.catalog = event.catalog
            if self.llm_ready():
                self._tasks.spawn(self._prime(ctx), f"brain-prime-{ctx.room_id}")
        elif isinstance(event, StageChanged):
            product = ctx.catalog.get(event.sku) if event.sku else None
            if product is not None and self.llm_ready():
                self._tasks.spawn(self._prime(ctx, product), f"brain-prime-{ctx.room_id}")
        elif isinstance(event, ScriptRequest):
            self._tasks.spawn(self._script(ctx, event), f"brain-script-{event.id}")
        elif isinstance(event, ScriptApprove):
            self._tasks.spawn(self.writer.approve(ctx, event), f"brain-approve-{event.id}")

    async def _script(self, ctx: RoomContext, req: ScriptRequest) -> None:
        try:
            await self.writer.write(ctx, req)
        except Exception:
            log.exception("script %s failed in room %s", req.id, ctx.room_id)

    async def _answer_loop(self, ctx: RoomContext) -> None:
        """Answer the room's questions one at a time. A question is handed back to the backlog
        (it is still queued in the store) when the loop stops, at shutdown or because the
        store or bus failed under it; the supervisor then runs the loop again."""
        backlog = self.services.backlog
        while True:
            item = await backlog.next(ctx.room_id)
            try:
                out = await self._answer_one(ctx, item)
            except BaseException:
                backlog.requeue(item)
                raise
            if out is not None:
                await asyncio.shield(self.answerer.deliver(out))

    async def _answer_one(self, ctx: RoomContext, item: ChatTriaged) -> Outcome | None:
        """Answer or skip one question and store how it ended; returns an answer to deliver."""
        backlog, chat_id = self.services.backlog, item.chat.id
        try:
            out = await self.answerer.answer(ctx, item, llm_ready=self.llm_ready())
        except (asyncio.CancelledError, BusUnavailable):
            raise
        except Exception as exc:
            log.exception("answering %s failed in room %s", chat_id, ctx.room_id)
            reason = "llm_unavailable" if isinstance(exc, LLMUnavailable) else "error"
            self.metrics.skipped.labels(reason).inc()
            await backlog.resolve(ctx.room_id, chat_id, "skipped", reason=reason)
            return None
        if out.status == "skipped":
            self.metrics.skipped.labels(out.reason or "skipped").inc()
            await backlog.resolve(ctx.room_id, chat_id, "skipped", reason=out.reason)
            return None
        # Stored as answered before it is published: a crash in between never answers twice.
        reason = "flagged_to_host" if out.flagged else out.source
        mine = await backlog.resolve(
            ctx.room_id, chat_id, "answered", reason=reason, answer=out.text
        )
        return out if mine else None

    async def close(self) -> None:
        for sub in self._subs:
            sub.close("brain closed")
        await self._tasks.cancel()
        if self.llm is not None and self._own_llm:
            await self.llm.close()


def create(services: Services) -> Brain:
    return Brain(services)
