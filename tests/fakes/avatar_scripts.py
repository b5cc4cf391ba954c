"""A fake script writer on the bus: answers ScriptRequest with a Script after a delay."""

from __future__ import annotations

import asyncio
import random

from assistant.bus import EventBus
from assistant.events import Event, Script, ScriptDelta, ScriptRequest

_WORDS = "春夏秋冬山水花鸟云雨风雪金木火土日月星辰江河湖海松竹梅兰琴棋书画诗酒茶"


class FakeScriptWriter:
    """Replies after ``delay`` seconds (virtual time in soak tests); ``stall(p)`` makes a share
    of requests go unanswered, as a slow or stuck LLM would."""

    def __init__(
        self,
        bus: EventBus,
        room_id: str,
        *,
        delay: tuple[float, float] = (2.0, 8.0),
        sentences: int = 6,
        stall: float = 0.0,
        seed: int = 7,
    ) -> None:
        self.bus = bus
        self.room_id = room_id
        self.delay = delay
        self.sentences = sentences
        self.stall = stall
        self.rng = random.Random(seed)
        self.requests: list[ScriptRequest] = []
        self.scripts: list[Script] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.bus.on(self.room_id, self._on, ["script.request"])

    async def _on(self, event: Event) -> None:
        assert isinstance(event, ScriptRequest)
        self.requests.append(event)
        if self.rng.random() < self.stall:
            return
        task = asyncio.create_task(self._reply(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _sentence(self) -> str:
        """A sentence unlike the others, as a real writer's are (the anchor skips repeats)."""
        return "".join(self.rng.choice(_WORDS) for _ in range(6)) + "。"

    async def _reply(self, req: ScriptRequest) -> None:
        await asyncio.sleep(self.rng.uniform(*self.delay))
        n = len(self.scripts)
        said = [f"第{n}号讲解，{self._sentence()}"]
        said += [self._sentence() for _ in range(self.sentences - 1)]
        for sentence in said:  # one delta per checked sentence, as the real writer streams
            await self.bus.publish(
                ScriptDelta(room_id=self.room_id, request_id=req.id, sku=req.sku, delta=sentence)
            )
        text = "".join(said)
        script = Script(
            room_id=self.room_id, request_id=req.id, sku=req.sku, text=text, style=req.style
        )
        self.scripts.append(script)
        await self.bus.publish(script)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
