"""Bus and WebSocket benchmark: events/s per bus backend, chat ingest and fan-out latency."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from assistant.bus import create_bus
from assistant.events import HostSay
from assistant.settings import BusSettings
from bench.common import UNLIMITED, median, pct, subprocess_service, write_result
from tests.server import free_port

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "data" / "demo_catalog.json"
ADMIN = "bench-admin"


async def bus_rate(backend: str, n: int) -> float:
    bus = create_bus(
        BusSettings(backend=backend, redis_prefix=f"b{uuid.uuid4().hex[:6]}", queue_size=4096)
    )
    try:
        room = "bench"
        sub = await bus.subscribe(room)
        events = [HostSay(room_id=room, text=f"line {i}") for i in range(n)]

        async def consume() -> None:
            for _ in range(n):
                await sub.get()

        consumer = asyncio.create_task(consume())
        start = time.perf_counter()
        for event in events:
            await bus.publish(event)
        await consumer
        return n / (time.perf_counter() - start)
    finally:
        await bus.close()


async def queue_rate(n: int) -> float:
    """The floor: the same events through a bare asyncio.Queue."""
    queue: asyncio.Queue[HostSay] = asyncio.Queue(4096)
    events = [HostSay(room_id="bench", text=f"line {i}") for i in range(n)]

    async def consume() -> None:
        for _ in range(n):
            await queue.get()

    consumer = asyncio.create_task(consume())
    start = time.perf_counter()
    for event in events:
        await queue.put(event)
    await consumer
    return n / (time.perf_counter() - start)


async def bare_server(port: int) -> None:
    """Baseline: a websockets server that acks each chat and broadcasts it to everyone."""
    clients: set[ServerConnection] = set()

    async def handler(conn: ServerConnection) -> None:
        clients.add(conn)
        try:
            async for raw in conn:
                message = json.loads(raw)
                message["id"] = uuid.uuid4().hex
                await conn.send(json.dumps({"type": "chat.accepted", "chat_id": message["id"]}))
                broadcast(clients, json.dumps(message, ensure_ascii=False))
        finally:
            clients.discard(conn)

    async def health(conn: ServerConnection, request: Any) -> Any:
        if request.path == "/healthz":
            return conn.respond(200, "ok")
        return None

    async with serve(
        handler, "127.0.0.1", port, process_request=health, max_size=None, compression=None
    ):
        await asyncio.Future()


class Load:
    def __init__(self, viewer_url: str, viewers: int, senders: int) -> None:
        self.viewer_url = viewer_url
        self.n_viewers = viewers
        self.n_senders = senders
        self.latencies: list[float] = []
        self.received = 0
        # Relative send times keep the text free of long digit runs, which triage reads as spam.
        self.t0 = time.time()

    async def _connect(self, count: int) -> list[ClientConnection]:
        """Open connections 50 at a time, so thousands of handshakes do not time out."""
        conns: list[ClientConnection] = []
        for start in range(0, count, 50):
            batch = range(start, min(count, start + 50))
            conns += await asyncio.gather(
                *(connect(self.viewer_url, max_size=None, open_timeout=60) for _ in batch)
            )
        return conns

    def _chats(self, raw: str | bytes) -> list[dict[str, Any]]:
        """The chat events in one frame; batched clients get JSON arrays of events."""
        decoded = json.loads(raw)
        items = decoded if isinstance(decoded, list) else [decoded]
        return [item for item in items if item.get("type") == "chat"]

    def _record(self, chats: list[dict[str, Any]], expect: int, done: asyncio.Event) -> None:
        now = time.time()
        for chat in chats:
            self.latencies.append(now - self.t0 - float(chat["text"].split("@")[1]))
        self.received += len(chats)
        if self.received >= expect:
            done.set()

    async def _viewer(self, conn: ClientConnection, expect: int, done: asyncio.Event) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in conn:
                self._record(self._chats(raw), expect, done)

    async def run(self, messages: int, rate: float | None) -> dict[str, float]:
        viewers = await self._connect(self.n_viewers)
        senders = await self._connect(self.n_senders)
        done = asyncio.Event()
        expect = messages * (self.n_viewers + self.n_senders)
        tasks = [asyncio.create_task(self._viewer(v, expect, done)) for v in viewers]

        async def sender(idx: int, conn: ClientConnection, count: int) -> None:
            async def read_acks() -> None:
                acks = 0
                async for raw in conn:
                    decoded = json.loads(raw)
                    items = decoded if isinstance(decoded, list) else [decoded]
                    acks += sum(1 for item in items if item.get("type") == "chat.accepted")
                    self._record([i for i in items if i.get("type") == "chat"], expect, done)
                    if acks >= count:
                        return

            reader = asyncio.create_task(read_acks())
            for k in range(count):
                body = {
                    "type": "chat",
                    "user": {"id": f"s{idx}", "name": f"买家{idx}"},
                    "text": f"问题{idx}-{k} 尺码多大@{time.time() - self.t0:.4f}",
                }
                await conn.send(json.dumps(body, ensure_ascii=False))
                if rate:
                    await asyncio.sleep(self.n_senders / rate)
            await asyncio.wait_for(reader, 120)
            tasks.append(asyncio.create_task(self._viewer(conn, expect, done)))

        per = messages // self.n_senders
        start = time.perf_counter()
        await asyncio.gather(*(sender(i, c, per) for i, c in enumerate(senders)))
        ingest = time.perf_counter() - start
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 120)
        fanout = time.perf_counter() - start
        for task in tasks:
            task.cancel()
        # Close all at once: one by one, thousands of close handshakes take minutes.
        await asyncio.gather(*(conn.close() for conn in [*viewers, *senders]))
        return {
            "ingest_msgs_per_s": per * self.n_senders / ingest,
            "fanout_deliveries_per_s": self.received / fanout,
            "delivered_fraction": self.received / expect,
            "latency_p50_ms": pct(self.latencies, 0.5) * 1000,
            "latency_p99_ms": pct(self.latencies, 0.99) * 1000,
        }


async def ours(
    tmp: Path,
    viewers: int,
    senders: int,
    messages: int,
    rate: float | None,
    batch: bool = False,
    catalog: bool = False,
) -> dict[str, float]:
    port = free_port()
    env = {
        "LCA_SERVER__PORT": str(port),
        "LCA_SERVER__ADMIN_TOKEN": ADMIN,
        "LCA_STORE__PATH": str(tmp / f"{port}.sqlite3"),
        "LCA_TRIAGE__RATE_PER_MINUTE": "100000000",
        "LCA_TRIAGE__BURST": "100000000",
        "LCA_TRIAGE__BACKLOG_SIZE": "1000000",
        "LCA_WS__SEND_QUEUE": "100000",
        **UNLIMITED,
        # The bus and WebSocket path alone: no models competing for the two cores.
        "LCA_CAPABILITIES": "[]",
    }
    async with subprocess_service(["-m", "assistant", "--no-demo"], port, env) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            resp = await http.post(
                "/v1/rooms", json={"title": "bench"}, headers={"Authorization": f"Bearer {ADMIN}"}
            )
            room = resp.json()
            if catalog:  # every question is then read against the products, embedder included
                await http.put(
                    f"/v1/rooms/{room['room_id']}/catalog",
                    content=DEMO_CATALOG.read_bytes(),
                    headers={"Authorization": f"Bearer {room['tokens']['host']}"},
                    timeout=60,
                )
        ws = f"ws://127.0.0.1:{port}/v1/rooms/{room['room_id']}/ws?token={room['tokens']['viewer']}"
        return await Load(ws + ("&batch=1" if batch else ""), viewers, senders).run(messages, rate)


async def bare(viewers: int, senders: int, messages: int, rate: float | None) -> dict[str, float]:
    port = free_port()
    async with subprocess_service(["-m", "bench.bus", "--bare", str(port)], port, {}):
        return await Load(f"ws://127.0.0.1:{port}/?x=1", viewers, senders).run(messages, rate)


async def main(args: argparse.Namespace) -> None:
    result: dict[str, Any] = {"bus_events_per_s": {}}
    floor = median([await queue_rate(args.events) for _ in range(3)])
    result["bus_events_per_s"]["asyncio_queue_baseline"] = floor
    for backend in ("memory", "redis"):
        n = args.events if backend == "memory" else args.events // 4
        rate = median([await bus_rate(backend, n) for _ in range(3)])
        result["bus_events_per_s"][backend] = rate
        print(f"bus {backend:7s} {rate:10.0f} events/s  ({rate / floor:.3f}x asyncio.Queue)")
    with TemporaryDirectory() as tmp:
        alone_ours = await ours(Path(tmp), 0, 4, args.alone_messages, None)
        alone_bare = await bare(0, 4, args.alone_messages, None)
        result["ingest_no_viewers"] = {
            "messages": args.alone_messages,
            "ours": alone_ours,
            "bare_websockets": alone_bare,
            "ratio": alone_ours["ingest_msgs_per_s"] / alone_bare["ingest_msgs_per_s"],
        }
        print(
            f"ingest, no viewers: ours {alone_ours['ingest_msgs_per_s']:.0f} msg/s, bare"
            f" {alone_bare['ingest_msgs_per_s']:.0f} msg/s,"
            f" ratio {result['ingest_no_viewers']['ratio']:.2f}"
        )
        understood = await ours(Path(tmp), 0, 4, args.alone_messages, None, catalog=True)
        result["ingest_no_viewers"]["ours_with_catalog"] = understood
        print(
            f"ingest, no viewers, every line understood against the demo catalog:"
            f" {understood['ingest_msgs_per_s']:.0f} msg/s"
            f" ({understood['ingest_msgs_per_s'] / alone_ours['ingest_msgs_per_s']:.2f}x"
            f" the empty room)"
        )
        ingest_ours = await ours(Path(tmp), args.viewers, 4, args.messages, None)
        ingest_batched = await ours(Path(tmp), args.viewers, 4, args.messages, None, batch=True)
        ingest_bare = await bare(args.viewers, 4, args.messages, None)
        base = ingest_bare["ingest_msgs_per_s"]
        result["ingest"] = {
            "viewers": args.viewers,
            "messages": args.messages,
            "ours": ingest_ours,
            "ours_batched": ingest_batched,
            "bare_websockets": ingest_bare,
            "ratio": ingest_ours["ingest_msgs_per_s"] / base,
            "ratio_batched": ingest_batched["ingest_msgs_per_s"] / base,
        }
        print(
            f"ingest with {args.viewers} viewers: ours {ingest_ours['ingest_msgs_per_s']:.0f}"
            f" msg/s (batched {ingest_batched['ingest_msgs_per_s']:.0f}),"
            f" bare {base:.0f} msg/s, ratio {result['ingest']['ratio']:.2f}"
            f" (batched {result['ingest']['ratio_batched']:.2f})"
        )
        fan_ours = await ours(Path(tmp), args.fanout_viewers, 1, args.fanout_messages, 10.0)
        fan_batched = await ours(
            Path(tmp), args.fanout_viewers, 1, args.fanout_messages, 10.0, batch=True
        )
        fan_bare = await bare(args.fanout_viewers, 1, args.fanout_messages, 10.0)
        result["fanout"] = {
            "viewers": args.fanout_viewers,
            "rate_msgs_per_s": 10,
            "ours": fan_ours,
            "ours_batched": fan_batched,
            "bare_websockets": fan_bare,
            "p99_ratio": fan_ours["latency_p99_ms"] / fan_bare["latency_p99_ms"],
        }
        print(
            f"fan-out to {args.fanout_viewers} viewers: p99 ours {fan_ours['latency_p99_ms']:.1f}"
            f" ms (batched {fan_batched['latency_p99_ms']:.1f}),"
            f" bare {fan_bare['latency_p99_ms']:.1f} ms"
        )
    write_result("bus", result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--alone-messages", type=int, default=8000)
    parser.add_argument("--fanout-viewers", type=int, default=1000)
    parser.add_argument("--fanout-messages", type=int, default=50)
    ns = parser.parse_args()
    asyncio.run(bare_server(ns.bare) if ns.bare else main(ns))
