"""Abuse bench: /healthz and an honest viewer's answer latency, quiet and under each attack."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from assistant.settings import ServerSettings
from bench.common import median, pct, subprocess_service, write_result
from tests.server import free_port

CATALOG = Path(__file__).resolve().parents[1] / "data" / "demo_catalog.json"
ADMIN = "bench-admin"
VISION_MODELS = Path("~/.cache/live-commerce/vision").expanduser()
# Each party on its own loopback address, as separate clients would be: an attacker spends
# its own per-address budget, never the honest viewers' or the prober's.
VIEWER_ADDR, PROBE_ADDR = "127.0.0.2", "127.0.0.3"
ATTACKS = ["big_body_no_token", "big_image_no_token", "chat_flood", "connection_flood"]
ATTACKS += ["slowloris", "engagement_flood"]
GOALS = {"healthz_p99_ms": 50, "answer_vs_quiet": 1.5}
# Questions the demo catalog answers; 24 of them 1.5 s apart come back only after the 30 s
# in which triage would answer a repeat as a duplicate of the first.
QUESTIONS = [
    "保温杯还有货吗", "怎么下单呀", "包邮吗", "面膜多少钱一盒", "耳机续航多久", "能开发票吗",
    "七天无理由吗", "口红是什么色号", "奶瓶能用开水烫吗", "羽绒服充绒量多少", "牛肉干哪里产的",
    "帐篷几个人住", "空气炸锅多大容量", "龙井保质期多久", "普洱茶饼多重", "螺蛳粉辣不辣",
    "精华液多少毫升", "防晒霜防晒指数多少", "乳胶枕多大尺寸", "四件套多大的床", "围巾多长",
    "充电宝多少毫安", "吹风机功率多大", "瑜伽垫多厚",
]  # fmt: skip
SPAM = ["主播看看我", "有优惠券吗", "什么时候发货", "能便宜点吗", "有赠品吗", "今天有秒杀吗"]
VIEWERS = 8  # askers taking turns, each under triage's 12 questions a minute per viewer


def ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 2)


def ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 2) if value is not None and base else None


@dataclass
class Phase:
    healthz: list[float] = field(default_factory=list)
    healthz_failed: int = 0  # errors and 2 s timeouts, counted at 2 s in the percentiles
    answers: list[float] = field(default_factory=list)
    asked: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # answer sources, refusals, skips

    def summary(self) -> dict[str, Any]:
        return {
            "healthz_p50_ms": ms(median(self.healthz)),
            "healthz_p99_ms": ms(pct(self.healthz, 0.99)),
            "healthz_failed": self.healthz_failed,
            "answer_p50_ms": ms(median(self.answers)),
            "answer_p95_ms": ms(pct(self.answers, 0.95)),
            "answers": len(self.answers),
            "asked": self.asked,
            "viewer_replies": dict(self.replies),
        }


class Monitor:
    """The prober and the honest viewers; they record into ``phase`` while one is set."""

    def __init__(self, url: str, ws_url: str) -> None:
        self.url, self.ws_url = url, ws_url
        self.phase: Phase | None = None
        self.conns: list[tuple[ClientConnection, str] | None] = [None] * VIEWERS
        self.pending: dict[str, tuple[float, Phase | None]] = {}  # viewer id -> its question
        self.since, self.fast, self.back = math.inf, 0.0, asyncio.Event()

    def count(self, what: str, phase: Phase | None) -> None:
        if phase is not None:
            phase.replies[what] += 1

    async def probe(self) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=PROBE_ADDR)
        async with httpx.AsyncClient(base_url=self.url, transport=transport, timeout=2) as http:
            tick = time.perf_counter()
            while True:
                start, ok = time.perf_counter(), False
                with contextlib.suppress(httpx.HTTPError):
                    ok = (await http.get("/healthz")).status_code == 200
                took = time.perf_counter() - start
                if ok and took * 1000 <= GOALS["healthz_p99_ms"] and start >= self.since:
                    self.fast, self.since = start, math.inf
                    self.back.set()
                if (phase := self.phase) is not None:
                    phase.healthz.append(took)
                    phase.healthz_failed += not ok
                tick = max(tick + 0.02, time.perf_counter())
                await asyncio.sleep(tick - time.perf_counter())

    async def viewer(self, i: int) -> None:
        while True:
            with contextlib.suppress(OSError, TimeoutError, WebSocketException):
                async with connect(self.ws_url, local_addr=(VIEWER_ADDR, 0)) as ws:
                    user = json.loads(await ws.recv())["user_id"]
                    self.conns[i] = (ws, user)
                    async for raw in ws:
                        self.on_event(user, json.loads(raw))
            self.conns[i] = None
            self.count("viewer_reconnects", self.phase)
            await asyncio.sleep(0.5)

    def on_event(self, user: str, event: dict[str, Any]) -> None:
        kind, mine = event.get("type"), user in self.pending
        if kind == "answer" and mine and user in event.get("user_ids", []):
            sent, phase = self.pending.pop(user)
            if phase is not None:
                phase.answers.append(time.perf_counter() - sent)
            self.count(f"source_{event['source']}", phase)
        elif kind == "error" and mine:
            self.count(f"error_{event['code']}", self.pending.pop(user)[1])
        elif kind == "chat.accepted" and mine and event["status"] == "skipped":
            self.count(f"skipped_{event['reason']}", self.pending.pop(user)[1])

    async def ask(self) -> None:
        for n in range(sys.maxsize):
            await asyncio.sleep(1.5)
            slot = self.conns[n % VIEWERS]
            if slot is None:
                self.count("viewer_down", self.phase)
                continue
            ws, user = slot
            if self.phase is not None:
                self.phase.asked += 1
            self.pending[user] = (time.perf_counter(), self.phase)  # an old one is unanswered
            body = {"type": "chat", "user": {"id": user, "name": f"观众{n % VIEWERS}"}}
            body["text"] = QUESTIONS[n % len(QUESTIONS)]
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps(body, ensure_ascii=False))


# --- the attacks, each in its own process so that its busy loop does not delay the probes ---


async def requests(t: dict[str, Any], verb: str, path: str, body: bytes, s: float) -> Counter[str]:
    """Four clients sending ``body`` again and again on keep-alive connections, no token."""
    counts: Counter[str] = Counter(body_mb=len(body) >> 20)
    transport = httpx.AsyncHTTPTransport(local_address=t["addr"])
    async with httpx.AsyncClient(base_url=t["url"], transport=transport, timeout=30) as http:
        print("go", flush=True)  # prepared: the parent starts measuring
        end = time.perf_counter() + s

        async def worker() -> None:
            while time.perf_counter() < end:
                counts["requests"] += 1
                try:
                    json_type = {"Content-Type": "application/json"}
                    resp = await http.request(verb, path, content=body, headers=json_type)
                    counts[f"status_{resp.status_code}"] += 1
                except httpx.HTTPError as exc:
                    counts[type(exc).__name__] += 1

        await asyncio.gather(*(worker() for _ in range(4)))
    return counts


async def open_viewer(t: dict[str, Any], counts: Counter[str]) -> ClientConnection | None:
    try:
        ws = await connect(t["ws"], local_addr=(t["addr"], 0), open_timeout=10)
        json.loads(await ws.recv())  # the session, or the refusal's close
        counts["connected"] += 1
        return ws
    except ConnectionClosed as exc:
        counts[f"refused_{exc.rcvd.code if exc.rcvd else 'no_close'}"] += 1
    except (OSError, TimeoutError, WebSocketException) as exc:
        counts[type(exc).__name__] += 1
    return None


async def connection_flood(t: dict[str, Any], seconds: float) -> Counter[str]:
    """20 clients opening viewer sockets back to back; an accepted one is held to the end."""
    counts, held = Counter[str](), list[ClientConnection]()
    print("go", flush=True)
    end = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < end:
            counts["attempts"] += 1
            if (ws := await open_viewer(t, counts)) is not None:
                held.append(ws)

    await asyncio.gather(*(worker() for _ in range(20)))
    await asyncio.gather(*(ws.close() for ws in held))
    return counts


async def flood(t: dict[str, Any], seconds: float, line: Callable[[int, int], str]) -> Counter[str]:
    """100 viewers, each sending as fast as it can; what the server answered, by kind."""
    counts: Counter[str] = Counter()
    opened = await asyncio.gather(*(open_viewer(t, counts) for _ in range(100)))
    print("go", flush=True)
    end = time.perf_counter() + seconds

    async def read(ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                event = json.loads(raw)
                if event.get("type") == "error":
                    counts[f"error_{event['code']}"] += 1
                elif event.get("type") == "chat.accepted" and event.get("target_user"):
                    counts[f"ack_{event['status']}"] += 1

    async def send(i: int, ws: ClientConnection | None) -> None:
        """Send flat out; a flooder that is closed or refused comes straight back."""
        k = 0
        while time.perf_counter() < end:
            if ws is None:
                ws = await open_viewer(t, counts)
                if ws is None:
                    await asyncio.sleep(0.05)
                    continue
            reader = asyncio.create_task(read(ws))
            try:
                while time.perf_counter() < end:
                    await ws.send(line(i, k))
                    counts["sent"], k = counts["sent"] + 1, k + 1
                    await asyncio.sleep(0)
            except ConnectionClosed as exc:
                counts[f"closed_{exc.rcvd.code if exc.rcvd else 'no_close'}"] += 1
            await asyncio.sleep(0.2)  # the last replies
            reader.cancel()
            await ws.close()
            ws = None

    await asyncio.gather(*(send(i, ws) for i, ws in enumerate(opened)))
    return counts


async def slowloris(t: dict[str, Any], seconds: float) -> Counter[str]:
    """200 sockets sending a request header a byte a second; the server must cut them off.

    Counted by how each ended: ``closed_after_10s``, the server closed it after 10 s.
    """
    counts: Counter[str] = Counter()
    host, port = t["url"].removeprefix("http://").split(":")
    duration = max(seconds, t["header_timeout_s"] + 4)  # long enough to see the cut
    print("go", flush=True)

    async def one() -> None:
        start = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(t["addr"], 0))
        except OSError as exc:
            counts[type(exc).__name__] += 1
            return
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n")
        how = "still_open"
        try:
            while how == "still_open" and time.perf_counter() - start < duration:
                writer.write(b"X")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                    how = "answered" if data else "closed"
        except OSError:
            how = "closed"
        if how != "still_open":
            how += f"_after_{time.perf_counter() - start:.0f}s"
        counts[how] += 1
        writer.close()

    await asyncio.gather(*(one() for _ in range(200)))
    return counts


async def attack(name: str, t: dict[str, Any], seconds: float) -> dict[str, Any]:
    if name == "big_body_no_token":
        pad = json.dumps({"products": [], "pad": "x" * (24 << 20)}).encode()
        return await requests(t, "PUT", f"/v1/rooms/{t['room_id']}/catalog", pad, seconds)
    if name == "big_image_no_token":
        # 5000x5000 of grey noise: 25 Mpx, over the pixel cap, and it barely compresses.
        noise = np.random.default_rng(0).integers(0, 256, (5000, 5000), dtype=np.uint8)
        png = io.BytesIO()
        Image.fromarray(noise, "L").save(png, "PNG", compress_level=1)
        body = json.dumps({"image": base64.b64encode(png.getvalue()).decode()}).encode()
        return await requests(t, "POST", "/v1/vision/detection", body, seconds)
    if name == "chat_flood":  # the server names each viewer: the ids sent are ignored
        chat = [
            {"type": "chat", "user": {"id": "a", "name": "路人"}, "text": text} for text in SPAM
        ]
        lines = [json.dumps(c, ensure_ascii=False) for c in chat]
        return await flood(t, seconds, lambda i, k: lines[(i + k) % len(lines)])
    if name == "engagement_flood":
        # Engagement.action is view, click, cart or purchase: "like" is refused as malformed.
        like = {"type": "engagement", "user": {"id": "x", "name": "y"}, "sku": "HM-CUP-316-500"}
        return await flood(t, seconds, lambda i, k: json.dumps({**like, "action": "click"}))
    if name == "connection_flood":
        return await connection_flood(t, seconds)
    return await slowloris(t, seconds)


# --- the run ---


async def measure(mon: Monitor, name: str, t: dict[str, Any], seconds: float) -> dict[str, Any]:
    """One phase, then how long /healthz took to answer fast again once the attacker stopped."""
    phase, counters = Phase(), dict[str, Any]()
    if name == "quiet":
        mon.phase = phase
        await asyncio.sleep(seconds)
    else:
        spec = json.dumps({**t, "addr": f"127.0.1.{ATTACKS.index(name) + 1}"})
        args = ["-m", "bench.abuse", "--attack", name, "--target", spec, "--seconds", str(seconds)]
        proc = await asyncio.create_subprocess_exec(sys.executable, *args, stdout=-1)
        assert proc.stdout is not None
        if await proc.stdout.readline() == b"go\n":
            mon.phase = phase
        line = await proc.stdout.readline()
        counters = json.loads(line) if line else {"attacker_exit": await proc.wait()}
        await proc.wait()
    mon.phase, mon.since = None, (stopped := time.perf_counter())
    mon.back.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(mon.back.wait(), 120)
    recovery = round(mon.fast - stopped, 2) if mon.back.is_set() else None
    return {**phase.summary(), "recovery_s": recovery, "counters": counters}


async def make_room(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        made = await http.post("/v1/rooms", json={"title": "abuse"}, headers=admin)
        room: dict[str, Any] = made.raise_for_status().json()
        host = {"Authorization": f"Bearer {room['tokens']['host']}"}
        host["Content-Type"] = "application/json"
        path = f"/v1/rooms/{room['room_id']}/catalog"
        (await http.put(path, content=CATALOG.read_bytes(), headers=host)).raise_for_status()
    return room


def judge(out: dict[str, dict[str, Any]]) -> None:
    """The ratios to the quiet phase and whether each phase met the goals, as a table."""
    quiet, row = out["quiet"], "{:18} {:>9}/{:<9} {:>6} {:>9}/{:<9} {:>6} {:>4}/{:<4} {}"
    head = ["phase", "healthz", "p99 ms", "p99 x", "answer", "p95 ms", "p50 x", "n", "of", "met"]
    print(row.format(*head))
    for name, r in out.items():
        r["healthz_p99_vs_quiet"] = ratio(r["healthz_p99_ms"], quiet["healthz_p99_ms"])
        r["answer_p50_vs_quiet"] = vs = ratio(r["answer_p50_ms"], quiet["answer_p50_ms"])
        p99 = r["healthz_p99_ms"]
        r["met"] = p99 is not None and p99 <= GOALS["healthz_p99_ms"]
        r["met"] &= vs is not None and vs <= GOALS["answer_vs_quiet"]
        cols = [r["healthz_p50_ms"], p99, r["healthz_p99_vs_quiet"], r["answer_p50_ms"]]
        cols += [r["answer_p95_ms"], vs, r["answers"], r["asked"], r["met"]]
        print(row.format(name, *(str(c) for c in cols)))


async def main(args: argparse.Namespace) -> None:
    only = args.only.split(",") if args.only else ATTACKS
    if unknown := set(only) - set(ATTACKS):
        sys.exit(f"unknown attacks {sorted(unknown)}; known: {ATTACKS}")
    # The vision API is routed only with its models installed (make install).
    vision = VISION_MODELS.is_dir() and any(VISION_MODELS.iterdir())
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "LCA_SERVER__PORT": str(port),
            "LCA_SERVER__ADMIN_TOKEN": ADMIN,
            "LCA_STORE__PATH": str(Path(tmp) / "lca.sqlite3"),
            "LCA_CAPABILITIES": json.dumps(["brain", "vision"] if vision else ["brain"]),
            "LCA_LLM__BACKEND": "none",
            "LCA_ANSWERS__PHRASE_WITH_LLM": "false",
        }
        async with subprocess_service(["-m", "assistant", "--no-demo"], port, env) as url:
            room = await make_room(url)
            ws = f"ws://127.0.0.1:{port}/v1/rooms/{room['room_id']}/ws"
            target: dict[str, Any] = {"url": url, "room_id": room["room_id"]}
            target["ws"] = f"{ws}?token={room['tokens']['viewer']}"
            target["header_timeout_s"] = ServerSettings().header_timeout_s
            mon = Monitor(url, target["ws"])
            tasks = [asyncio.create_task(mon.probe()), asyncio.create_task(mon.ask())]
            tasks += [asyncio.create_task(mon.viewer(i)) for i in range(VIEWERS)]
            await asyncio.sleep(3.0)  # the viewers connect; the first answers warm up
            out: dict[str, dict[str, Any]] = {}
            for name in ["quiet", *only]:
                print(f"  {name} ...", flush=True)
                out[name] = await measure(mon, name, target, args.seconds)
                await asyncio.sleep(1.0)
            for task in tasks:
                task.cancel()
    judge(out)
    write_result("abuse", {"seconds": args.seconds, "vision": vision, "goals": GOALS, **out})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="each attack's length")
    parser.add_argument("--only", default="", help=f"comma-separated, of {','.join(ATTACKS)}")
    parser.add_argument("--attack", help=argparse.SUPPRESS)  # the attacker process
    parser.add_argument("--target", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.attack:
        print(json.dumps(asyncio.run(attack(ns.attack, json.loads(ns.target), ns.seconds))))
    else:
        asyncio.run(main(ns))
