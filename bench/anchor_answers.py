"""Question → the virtual anchor's voice: the real service, its scripts and voice, 1 and 4 rooms."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.common import median, pct, subprocess_service
from tests.server import free_port

CATALOG = (Path(__file__).resolve().parents[1] / "data" / "demo_catalog.json").read_text()
ADMIN = "bench-admin"
# As viewers type them in a food / beauty / home room; each has an answer in the demo catalog.
QUESTIONS = [
    "这个多少钱",
    "保温杯还有货吗",
    "怎么下单呀",
    "包邮吗",
    "面膜多少钱一盒",
    "耳机续航多久",
    "能开发票吗",
    "七天无理由吗",
    "口红是什么色号",
    "奶瓶能用开水烫吗",
    "羽绒服充绒量多少",
    "牛肉干哪里产的",
    "帐篷几个人住",
    "空气炸锅多大容量",
    "龙井保质期多久",
]


@dataclass
class Anchor:
    """What one room's anchor client hears: when each answer's text, subtitle and voice came."""

    sent: dict[str, float] = field(default_factory=dict)  # viewer id -> question sent
    asked: dict[str, str] = field(default_factory=dict)  # viewer id -> the question
    text: dict[str, float] = field(default_factory=dict)  # viewer id -> answer event seen
    said: dict[str, str] = field(default_factory=dict)  # viewer id -> the answer's text
    answer_of: dict[str, str] = field(default_factory=dict)  # answer event id -> viewer id
    voice: dict[str, float] = field(default_factory=dict)  # viewer id -> first audio plays
    subtitle: dict[str, float] = field(default_factory=dict)
    play_end: float = 0.0
    worst_gap: float = 0.0
    audio_s: float = 0.0

    def on_event(self, event: dict[str, Any], now: float) -> None:
        kind = event.get("type")
        if kind == "answer":
            for user in event.get("user_ids", []):
                self.text.setdefault(user, now)
                self.said.setdefault(user, event["text"])
                self.answer_of[event["id"]] = user
        elif kind == "subtitle":
            user = self.answer_of.get(event["utterance_id"].split(".", 1)[0])
            if user is not None:
                self.subtitle.setdefault(user, now)

    def on_audio(self, header: dict[str, Any], samples: int, now: float) -> None:
        if self.audio_s and now > self.play_end:  # the client's buffer ran dry: an underrun
            self.worst_gap = max(self.worst_gap, now - self.play_end)
        start = max(now, self.play_end)
        self.play_end = start + samples / header["sample_rate"]
        self.audio_s += samples / header["sample_rate"]
        user = self.answer_of.get(header["utterance_id"].split(".", 1)[0])
        if user is not None:
            self.voice.setdefault(user, start)


async def listen(ws: ClientConnection, anchor: Anchor) -> None:
    header: dict[str, Any] | None = None
    async for message in ws:
        now = time.perf_counter()
        if isinstance(message, bytes):
            if header is not None:
                anchor.on_audio(header, len(message) // 2, now)
            header = None
            continue
        for event in json.loads(message) if message.startswith("[") else [json.loads(message)]:
            if event.get("type") == "audio.chunk":
                header = event
            else:
                anchor.on_event(event, now)


async def ask(base: str, room: dict[str, Any], anchor: Anchor, n: int, rng: random.Random) -> None:
    url = f"{base.replace('http', 'ws', 1)}/v1/rooms/{room['room_id']}/ws"
    async with connect(f"{url}?token={room['tokens']['viewer']}") as viewer:
        user = json.loads(await viewer.recv())["user_id"]  # the server names each viewer
        text = rng.choice(QUESTIONS)
        body = {"type": "chat", "user": {"id": user, "name": f"观众{n}"}, "text": text}
        anchor.sent[user], anchor.asked[user] = time.perf_counter(), text
        await viewer.send(json.dumps(body, ensure_ascii=False))
        await asyncio.sleep(1.0)  # stay long enough that the line is read, not cut off


async def room_run(
    base: str, room: dict[str, Any], seconds: float, warmup: float, seed: int
) -> Anchor:
    anchor = Anchor()
    rng = random.Random(seed)
    url = f"{base.replace('http', 'ws', 1)}/v1/rooms/{room['room_id']}/ws"
    async with connect(f"{url}?token={room['tokens']['anchor']}", max_size=2**24) as ws:
        listener = asyncio.create_task(listen(ws, anchor))
        await asyncio.sleep(warmup)  # the anchor is selling before the first question
        anchor.worst_gap = 0.0  # the cold start is measured elsewhere
        end, n = time.perf_counter() + seconds, 0
        asks = []
        while time.perf_counter() < end:
            asks.append(asyncio.create_task(ask(base, room, anchor, n, rng)))
            n += 1
            # A busy room: a question to the bot every 17 s or so. Faster, the answers (5 to 13 s
            # of speech each) need more than half the air and wait for their turn by design.
            await asyncio.sleep(rng.uniform(10.0, 25.0))
        await asyncio.gather(*asks)
        await asyncio.sleep(15.0)  # the last answers are still on their way
        listener.cancel()
    return anchor


def spans(anchors: list[Anchor], end: str) -> list[float]:
    out = []
    for a in anchors:
        for user, sent in a.sent.items():
            at = getattr(a, end).get(user)
            if at is not None:
                out.append(at - sent)
    return out


def summary(anchors: list[Anchor]) -> dict[str, Any]:
    asked = sum(len(a.sent) for a in anchors)
    out: dict[str, Any] = {"questions": asked}
    for name in ("text", "voice", "subtitle"):
        values = spans(anchors, name)
        out[f"question_to_{name}_s"] = {
            "p50": round(median(values), 3),
            "p95": round(pct(values, 0.95), 3),
            "max": round(max(values, default=float("nan")), 3),
            "n": len(values),
        }
    waits = [a.voice[u] - a.text[u] for a in anchors for u in a.voice if u in a.text]
    out["text_to_voice_s"] = {"p50": round(median(waits), 3), "p95": round(pct(waits, 0.95), 3)}
    out["unvoiced"] = [
        (a.asked[u], a.said.get(u)) for a in anchors for u in a.sent if u not in a.voice
    ]
    out["unanswered"] = [a.asked[u] for a in anchors for u in a.sent if u not in a.text]
    out["worst_gap_s"] = round(max(a.worst_gap for a in anchors), 3)
    return out


async def make_rooms(base: str, demo: dict[str, Any], n: int) -> list[dict[str, Any]]:
    rooms = [demo]
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(n - 1):
            spec = {"title": f"数字人直播间 {i + 2}", "mode": "anchor", "language": "zh"}
            admin = {"Authorization": f"Bearer {ADMIN}"}
            made = await http.post("/v1/rooms", json=spec, headers=admin)
            made.raise_for_status()
            room = made.json()
            auth = {"Authorization": f"Bearer {room['tokens']['host']}"}
            auth["Content-Type"] = "application/json"
            put = await http.put(
                f"/v1/rooms/{room['room_id']}/catalog", content=CATALOG, headers=auth
            )
            put.raise_for_status()
            rooms.append(room)
    return rooms


async def measure(counts: list[int], seconds: float, warmup: float) -> dict[str, Any]:
    """Each room count in a fresh service: the packaged LLM writes, the real voice speaks."""
    out: dict[str, Any] = {}
    for n in counts:
        port = free_port()
        store = Path(tempfile.mkdtemp()) / "lca.sqlite3"
        env = {
            "LCA_SERVER__PORT": str(port),
            "LCA_STORE__PATH": str(store),
            "LCA_SERVER__ADMIN_TOKEN": ADMIN,
        }
        async with subprocess_service(["-m", "assistant"], port, env) as base:
            demo = json.loads((store.parent / "demo_rooms.json").read_text())["anchor"]
            rooms = await make_rooms(base, demo, n)
            runs = [room_run(base, r, seconds, warmup, seed=i) for i, r in enumerate(rooms)]
            anchors = await asyncio.gather(*runs)
        out[f"{n}_rooms"] = result = summary(list(anchors))
        print(f"  {n} anchor room(s): {json.dumps(result, ensure_ascii=False)}")
    return out
