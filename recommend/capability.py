"""The recommend capability: recommendation-intent chat in, a Recommendation for the viewer out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import Counter, Histogram

from assistant.catalog import Catalog
from assistant.embedders import Embedder, Matrix
from assistant.events import (
    CatalogUpdated,
    Chat,
    ChatTriaged,
    Engagement,
    Event,
    Recommendation,
    RecommendedItem,
)
from assistant.plugins import Capability, RoomInfo, Services
from recommend.activity import RoomActivity
from recommend.errors import RecommendBadInput, UnknownSku
from recommend.images import ImageEmbedder, load_image_embedder, product_image
from recommend.index import set_threads
from recommend.recommender import ProductRecommender, RecommendResult
from recommend.settings import RecommendSettings
from recommend.text import parse_ask

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.bus import Subscription

log = logging.getLogger(__name__)
T = TypeVar("T")
TYPES = ("chat.triaged", "engagement", "catalog.updated")
STATE_KEY = "recommend.activity"
DATA_ROOT = Path("data")


@dataclass
class _Room:
    info: RoomInfo
    activity: RoomActivity
    recommender: ProductRecommender | None = None
    engagements: int = 0
    sub: Subscription | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    built: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class RecommendCapability:
    """Owns one worker thread for every model call, and one task per room reading its bus."""

    name = "recommend"

    def __init__(
        self,
        services: Services,
        models: tuple[Embedder, Embedder | None, ImageEmbedder | None] | None = None,
        settings: RecommendSettings | None = None,
    ) -> None:
        self.services = services
        if settings is None:
            settings = services.settings.recommend
        if settings.model_dir is None:
            settings = settings.model_copy(update={"model_dir": services.settings.model_dir})
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recommend")
        self._models = models
        self._models_lock = asyncio.Lock()
        self._rooms: dict[str, _Room] = {}
        self.requests = Counter(
            "recommend_requests",
            "Recommendation requests by outcome",
            ["outcome"],
            registry=services.registry,
        )
        self.latency = Histogram(
            "recommend_latency_seconds", "Time to rank one chat request", registry=services.registry
        )

    def router(self) -> APIRouter | None:
        return None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _load_models(self) -> tuple[Embedder, Embedder | None, ImageEmbedder | None]:
        async with self._models_lock:
            if self._models is None:
                s = self.settings

                pool = self.services.embedders

                def build() -> tuple[Embedder, Embedder | None, ImageEmbedder | None]:
                    set_threads(s.threads)
                    # The same loaded models chat understanding uses, not second copies.
                    primary = pool.get(s.embedder)
                    rerank = (
                        pool.get(s.reranker) if s.reranker and s.reranker != s.embedder else None
                    )
                    images = load_image_embedder(s.image_embedder, s) if s.image_embedder else None
                    return primary, rerank, images

                self._models = await self._run(build)
            return self._models

    # -- rooms ---------------------------------------------------------------------------------

    async def open_room(self, room: RoomInfo) -> None:
        if room.room_id in self._rooms:
            return
        body = await self.services.store.state(room.room_id, STATE_KEY)
        activity = (
            RoomActivity.restore(body, self.settings.history_size)
            if body
            else RoomActivity(self.settings.history_size)
        )
        state = _Room(info=room, activity=activity)
        state.sub = await self.services.bus.subscribe(room.room_id, TYPES, group="recommend")
        state.task = asyncio.create_task(self._serve(state), name=f"recommend-{room.room_id}")
        self._rooms[room.room_id] = state

    async def ready(self, room_id: str) -> ProductRecommender:
        """Wait until a room's index is built (tests and callers of find_by_image use it)."""
        state = self._rooms.get(room_id)
        if state is None or state.task is None:
            raise UnknownSku(f"room {room_id!r} is not open")
        waiter = asyncio.ensure_future(state.built.wait())
        await asyncio.wait([waiter, state.task], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if state.recommender is None:
            state.task.result()  # raises the reason the room could not start
            raise UnknownSku(f"room {room_id!r} closed before its index was built")
        return state.recommender

    async def _serve(self, state: _Room) -> None:
        assert state.sub is not None
        try:
            primary, rerank, images = await self._load_models()
            recommender = ProductRecommender(primary, self.settings, rerank)
            directory = self.settings.index_dir / state.info.room_id
            await self._run(recommender.load, directory)
            await self._sync(recommender, state.info.catalog, directory, images)
        except Exception:
            log.exception("recommend cannot serve room %s", state.info.room_id)
            state.sub.close("recommend unavailable")
            raise
        state.recommender = recommender
        state.built.set()
        while True:
            async for event in state.sub:
                try:
                    await self._handle(state, recommender, event, directory, images)
                except (RecommendBadInput, UnknownSku) as exc:
                    log.info("recommend: %s in room %s: %s", event.type, state.info.room_id, exc)
                except Exception:
                    log.exception(
                        "recommend failed on %s in room %s", event.type, state.info.room_id
                    )
            if state.sub.close_reason != "slow_consumer":
                return
            # Fell behind and was cut off by the bus: take the room's requests again.
            state.sub = await self.services.bus.subscribe(
                state.info.room_id, TYPES, group="recommend"
            )

    async def _sync(
        self,
        rec: ProductRecommender,
        catalog: Catalog,
        directory: Path,
        images: ImageEmbedder | None,
    ) -> None:
        def work() -> None:
            report = rec.sync(catalog)
            if images is not None:
                pairs = [(p.sku, product_image(p, DATA_ROOT)) for p in catalog.products]
                with_image = [(s, b) for s, b in pairs if b is not None]
                if with_image:
                    vecs = images.embed_images([b for _, b in with_image])
                    rec.set_image_vectors({s: vecs[i] for i, (s, _) in enumerate(with_image)})
            if report.added or report.updated or report.removed:
                rec.save(directory)
            log.info("recommend index synced: %s", report.model_dump(exclude={"unchanged"}))

        await self._run(work)

    async def _handle(
        self,
        state: _Room,
        rec: ProductRecommender,
        event: Event,
        directory: Path,
        images: ImageEmbedder | None,
    ) -> None:
        if isinstance(event, ChatTriaged) and event.intent == "recommendation":
            await self._on_chat(state, rec, event.chat)
        elif isinstance(event, Engagement):
            if event.sku not in rec.products:
                raise UnknownSku(f"engagement with unknown sku {event.sku!r}")
            state.activity.record(event.user.id, event.sku, event.action)
            state.engagements += 1
            if state.engagements % 20 == 0:
                await self._save_activity(state)
        elif isinstance(event, CatalogUpdated):
            catalog = event.catalog
            gone = set(rec.products) - {p.sku for p in catalog.products}
            await self._sync(rec, catalog, directory, images)
            state.activity.forget(gone)

    async def _on_chat(self, state: _Room, rec: ProductRecommender, chat: Chat) -> None:
        try:
            intent = parse_ask(chat.text, self.settings.usd_cny)
        except RecommendBadInput:
            self.requests.labels("bad_input").inc()
            await self._publish(state, chat, [])
            return
        stage = self.services.stage.sku(state.info.room_id)
        stage = stage if stage in rec.products else None
        if stage is not None:
            state.activity.record(chat.user.id, stage, "asked")
        started = time.perf_counter()
        result: RecommendResult = await self._run(
            lambda: rec.recommend(
                chat.text,
                user_id=chat.user.id,
                stage_sku=stage,
                activity=state.activity,
                intent=intent,
            )
        )
        self.latency.observe(time.perf_counter() - started)
        self.requests.labels("ok" if result.items else "empty").inc()
        await self._publish(state, chat, result.items)

    async def _publish(self, state: _Room, chat: Chat, items: list[RecommendedItem]) -> None:
        event = Recommendation(
            room_id=state.info.room_id,
            target_user=chat.user.id,
            query=chat.text,
            chat_id=chat.id,
            items=items,
        )
        await self.services.bus.publish(event)
        # Kept so the host console can show what was sent after it reconnects.
        await self.services.store.add_output(
            event.room_id, "recommendation", event.model_dump(mode="json"), ref=chat.id
        )

    async def find_by_image(
        self, room_id: str, vector: Matrix, k: int = 3
    ) -> list[tuple[str, float]]:
        """ "Find this product" from a frame crop's image vector (computed by vision, sent here)."""
        rec = await self.ready(room_id)
        hits = await self._run(rec.find_by_image, vector, k)
        return [(p.sku, score) for p, score in hits]

    async def _save_activity(self, state: _Room) -> None:
        await self.services.store.put_state(state.info.room_id, STATE_KEY, state.activity.dump())

    async def close(self) -> None:
        rooms = list(self._rooms.values())
        for state in rooms:
            if state.sub is not None:
                state.sub.close("capability closed")
            if state.task is not None:
                state.task.cancel()
        for state in rooms:
            if state.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await state.task
            with contextlib.suppress(Exception):
                await self._save_activity(state)
        self._rooms.clear()
        self._pool.shutdown(wait=True)


def create(services: Services) -> Capability:
    return RecommendCapability(services)
