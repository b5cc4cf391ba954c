"""Connector benchmark: messages decoded per second against a bare parse loop, platform message
to answer through a fake Bilibili against our own WebSocket, and video ingest CPU per room."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from assistant.catalog import Catalog
from assistant.connectors.bilibili.commands import parse
from assistant.connectors.bilibili.packets import unpack
from assistant.connectors.relay import parse_relay
from assistant.connectors.specs import TwitchSpec
from assistant.connectors.twitch import TwitchConnector
from assistant.settings import LimitSettings
from bench.common import median, pct, write_result
from bench.ingest import ingest_figures
from tests.conftest import DEMO_CATALOG, catalog_brain_settings, demo_room, ws_url
from tests.fakes.bilibili_server import commands_frame, running_fake
from tests.fakes.connector_sink import RecordingSink
from tests.fakes.twitch_server import chat, fake_twitch
from tests.server import serve
from tests.wsclient import room_client

BATCH = 100  # messages per frame or payload, as a busy room sends them


def open_dm(i: int, text: str, uname: str = "观众") -> dict[str, Any]:
    data = {"open_id": f"open-{i % 500}", "uname": uname, "msg": text, "msg_id": f"m-{i}"}
    return {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": data | {"timestamp": 1_700_000_000}}


def douyin(i: int, text: str) -> dict[str, Any]:
    data = {"MsgId": i, "Content": text, "User": {"Id": 10_000 + i % 500, "Nickname": "雨后晴天"}}
    return {"Type": 1, "ProcessName": "chrome", "Data": json.dumps(data, ensure_ascii=False)}


def rate(fn: Callable[[], int], seconds: float) -> float:
    """Items per second through ``fn`` (one call: one batch), over about ``seconds``."""
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += fn()
    return done / (time.perf_counter() - start)


def decode_figures(seconds: float) -> dict[str, Any]:
    """Each connector's decode of a batch against a bare loop that only parses its JSON."""
    questions = [f"第{i}号链接多少钱，有优惠吗" for i in range(BATCH)]
    frame = commands_frame(*(open_dm(i, q) for i, q in enumerate(questions)), protover=2)
    plain = zlib.decompress(frame[16:])

    def bilibili() -> int:
        return sum(len(parse(json.loads(p.body))) for p in unpack(frame))

    def bilibili_bare() -> int:
        count, at = 0, 0
        while at < len(plain):  # the same packets, split by their length field alone
            size = int.from_bytes(plain[at : at + 4], "big")
            json.loads(plain[at + 16 : at + size])
            at, count = at + size, count + 1
        return count

    payload = json.dumps([douyin(i, q) for i, q in enumerate(questions)], ensure_ascii=False)
    raw = payload.encode()

    def relay() -> int:
        return len(parse_relay(raw).items)

    def relay_bare() -> int:
        return len([json.loads(item["Data"]) for item in json.loads(raw)])

    out: dict[str, Any] = {}
    for name, ours, bare in (("bilibili", bilibili, bilibili_bare), ("relay", relay, relay_bare)):
        mine, base = rate(ours, seconds), rate(bare, seconds)
        out[name] = {"msgs_per_s": round(mine), "bare_msgs_per_s": round(base)}
        out[name]["bare_over_ours"] = round(base / mine, 2)
        print(f"{name:9s} {mine:10.0f} msg/s  bare parse {base:10.0f} msg/s  ({base / mine:.1f}x)")
    return out


async def twitch_figures(messages: int) -> dict[str, Any]:
    """EventSub notifications through the connector over loopback, against a bare json loop."""
    frames = [chat(f"how much is #{i}?", message_id=f"t-{i}") for i in range(messages)]
    async with fake_twitch() as fake:
        sink = RecordingSink()
        spec = TwitchSpec(
            client_id="c",
            access_token=SecretStr("t"),
            broadcaster_id="1",
            bot_user_id="2",
            eventsub_url=fake.eventsub_url,
            api_base=fake.api_base,
        )
        task = asyncio.create_task(TwitchConnector(spec).run(sink))
        session = await fake.next_session()
        await session.welcome()
        await sink.until(lambda: bool(sink.connects))
        start = time.perf_counter()
        for text in frames:
            await session.send(text)
        await sink.until(lambda: len(sink.messages) == messages, timeout=120)
        mine = messages / (time.perf_counter() - start)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    start = time.perf_counter()
    for text in frames:
        json.loads(text)
    base = messages / (time.perf_counter() - start)
    print(f"twitch    {mine:10.0f} msg/s  bare parse {base:10.0f} msg/s  (over loopback)")
    return {"msgs_per_s": round(mine), "bare_msgs_per_s": round(base)}


async def answer_figures(questions: int, tmp: str) -> dict[str, Any]:
    """Platform message to answer on the host's socket, through a fake Bilibili, against the
    same questions asked on the room's own viewer socket, in the same service."""
    many = "10000/minute"  # every viewer of the bench comes from 127.0.0.1
    settings = catalog_brain_settings(
        Path(tmp),
        limits=LimitSettings(
            connects_per_address=many, viewer_per_address=many, viewer_per_room=many
        ),
    )
    catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))
    titles = [p.title for p in catalog.products if p.stock > 0]
    # Every question its own (a repeat within the dedupe window would share the first answer).
    asked = [f"{t}{ask}" for ask in ("多少钱？", "还有货吗？") for t in titles][: 2 * questions]
    platform: list[float] = []
    own: list[float] = []
    async with (
        serve(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        running_fake() as fake,
    ):
        room = await demo_room(http)
        host = {"Authorization": f"Bearer {room.tokens['host']}"}
        body = fake.open_spec()
        started = await http.post(f"/v1/rooms/{room.room_id}/connectors", json=body, headers=host)
        assert started.status_code == 201, started.text
        await fake.until(lambda: bool(fake.auths))
        async with room_client(ws_url(url, room, "host")) as watcher:
            for i in range(questions):
                t0 = time.perf_counter()
                await fake.push(commands_frame(open_dm(i, asked[2 * i], uname=f"b站观众{i}")))
                await watcher.expect("answer", timeout=30)
                platform.append(time.perf_counter() - t0)
                # a viewer of its own each time: one viewer asking 30 times is rate-limited
                async with room_client(ws_url(url, room, "viewer")) as viewer:
                    t0 = time.perf_counter()
                    await viewer.chat(asked[2 * i + 1])
                    await watcher.expect("answer", timeout=30)
                    own.append(time.perf_counter() - t0)
    out = {
        "questions": questions,
        "platform_p50_ms": round(median(platform) * 1000, 1),
        "platform_p95_ms": round(pct(platform, 0.95) * 1000, 1),
        "own_ws_p50_ms": round(median(own) * 1000, 1),
        "own_ws_p95_ms": round(pct(own, 0.95) * 1000, 1),
    }
    out["p50_ratio"] = round(out["platform_p50_ms"] / out["own_ws_p50_ms"], 2)
    print(
        f"answer    platform p50 {out['platform_p50_ms']} ms p95 {out['platform_p95_ms']} ms;"
        f" own socket p50 {out['own_ws_p50_ms']} ms ({out['p50_ratio']}x)"
    )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="per decode measurement")
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--ingest-seconds", type=float, default=20.0)
    args = parser.parse_args()
    result: dict[str, Any] = {"decode": decode_figures(args.seconds)}
    result["decode"]["twitch"] = await twitch_figures(2000)
    with tempfile.TemporaryDirectory() as tmp:
        result["answer"] = await answer_figures(args.questions, tmp)
    result["ingest"] = await ingest_figures(args.ingest_seconds)
    write_result("connectors", result)


if __name__ == "__main__":
    asyncio.run(main())
