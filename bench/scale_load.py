"""Load for bench/scale.py, one process per service instance; and the bare broadcast server.

A load process opens its viewers (half of them ``batch=1``), a few of which send chat at a fixed
rate, each line marked ``#<phase>n<nonce>@<send time>``. The parent drives it over stdin
(one JSON command a line) and reads one JSON answer a line on stdout:
``ready`` once connected; ``{"cmd": "send"}`` -> ``sent`` (the lines acknowledged);
``{"cmd": "expect"}`` -> ``phase`` (what each viewer got of the lines acknowledged anywhere).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

MARK = re.compile(rb"#(\d)n(\d+)@(\d+\.\d+)")
GROUPS = ("batched", "plain")
TICK = os.sysconf("SC_CLK_TCK")
Hist = Counter[int]  # latency in tenths of a millisecond -> count


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Socket(asyncio.Protocol):
    """A WebSocket on the websockets library's sans-I/O client: frames are read in
    ``data_received``, with no task or future per message, so that one process keeps up with a
    thousand sockets (its asyncio client, a task woken per message, took more CPU than the
    server it measured)."""

    def __init__(self, url: str, on_text: Callable[[bytes, float], None], greeted: bool) -> None:
        self.ws = ClientProtocol(parse_uri(url), max_size=None)
        self.greeted = greeted  # a viewer's first message is its session
        self.on_text = on_text
        self.session: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.parts: list[bytes] = []
        self.closed: str | None = None  # the close code, when the server closed it
        self.leaving = False

    @classmethod
    async def open(
        cls, url: str, on_text: Callable[[bytes, float], None], greeted: bool = True
    ) -> tuple[Socket, bytes]:
        """Connect; returns the socket and its first message (a viewer's session), if greeted."""
        sock, where = cls(url, on_text, greeted), urlsplit(url)
        host, port = where.hostname or "127.0.0.1", where.port or 80
        await asyncio.get_running_loop().create_connection(lambda: sock, host, port)
        return sock, await asyncio.wait_for(sock.session, 120)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        now = time.time()
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    self.session.set_exception(self.ws.handshake_exc)
                elif not self.greeted:
                    self.session.set_result(b"")
            elif isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.CONT):
                self.parts.append(bytes(event.data))
                if event.fin:
                    text, self.parts = b"".join(self.parts), []
                    if self.session.done():
                        self.on_text(text, now)
                    else:
                        self.session.set_result(text)
        self.flush()  # pongs and the closing handshake

    def flush(self) -> None:
        assert self.transport is not None
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def send(self, text: str) -> None:
        with contextlib.suppress(InvalidState):
            self.ws.send_text(text.encode())
            self.flush()

    def close(self) -> None:
        self.leaving = True
        with contextlib.suppress(InvalidState):
            self.ws.send_close()
            self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.leaving:
            rcvd = self.ws.close_rcvd
            self.closed = str(rcvd.code) if rcvd else "no_close_frame"
        if not self.session.done():
            self.session.set_exception(ConnectionError(f"closed before its first message: {exc}"))


@dataclass
class Viewer:
    group: str
    got: bytearray = field(default_factory=lambda: bytearray(4096))  # nonce -> times received
    user: str = ""
    ws: Socket | None = None
    failed: str | None = None  # why it could not connect
    acks: list[int] = field(default_factory=list)  # a sender's lines awaiting their ack

    @property
    def closed(self) -> str | None:
        return self.failed or (self.ws.closed if self.ws else None)


class Load:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.t0: float = spec["t0"]
        self.viewers = [Viewer(GROUPS[i % 2]) for i in range(spec["viewers"])]
        self.hist: dict[tuple[int, str], Hist] = {}
        self.lines: dict[int, list[float]] = {}  # nonce -> [first arrival, last arrival, viewers]
        self.sent: dict[int, float] = {}  # own nonce -> send time
        self.acked: list[int] = []
        self.refused: Counter[str] = Counter()
        self.ack_ms: list[float] = []
        self.count = 0  # lines sent by this process
        self.host: Socket | None = None
        self.host_got: set[int] = set()

    def now(self) -> float:
        return time.time() - self.t0

    async def open(self, viewer: Viewer) -> None:
        url = self.spec["url"] + ("&batch=1" if viewer.group == "batched" else "")
        try:
            viewer.ws, first = await Socket.open(url, self.reader(viewer))
            viewer.user = json.loads(first)["user_id"]
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            viewer.failed = f"connect_{type(exc).__name__}"

    async def connect_all(self) -> dict[str, Any]:
        started = time.perf_counter()
        for start in range(0, len(self.viewers), 50):  # 50 handshakes at a time
            await asyncio.gather(*(self.open(v) for v in self.viewers[start : start + 50]))
        if url := self.spec.get("host_url"):
            # chat and chat.triaged both carry a line: count lines, not events
            def count(raw: bytes, now: float) -> None:
                self.host_got.update(int(m[2]) for m in MARK.finditer(raw))

            self.host, _ = await Socket.open(url, count, greeted=False)
        return {
            "connected": sum(v.ws is not None for v in self.viewers),
            "failed": dict(Counter(v.failed for v in self.viewers if v.failed)),
            "connect_s": round(time.perf_counter() - started, 1),
        }

    def reader(self, viewer: Viewer) -> Callable[[bytes, float], None]:
        def on_text(raw: bytes, now: float) -> None:
            rel = now - self.t0
            for match in MARK.finditer(raw):
                self.record(viewer, int(match[1]), int(match[2]), float(match[3]), rel)
            if viewer.acks and (b'"chat.accepted"' in raw or b'"error"' in raw):
                self.on_acks(viewer, raw, rel)

        return on_text

    def record(self, viewer: Viewer, phase: int, nonce: int, sent: float, now: float) -> None:
        if nonce >= len(viewer.got):
            viewer.got.extend(bytes(nonce + 4096 - len(viewer.got)))
        viewer.got[nonce] = min(255, viewer.got[nonce] + 1)
        if viewer.got[nonce] > 1:
            return  # a duplicate: counted from ``got``, timed once
        hist = self.hist.setdefault((phase, viewer.group), Counter())
        hist[round((now - sent) * 10_000)] += 1
        line = self.lines.get(nonce)
        if line is None:
            self.lines[nonce] = [now, now, 1]
        else:
            line[1], line[2] = now, line[2] + 1

    def on_acks(self, viewer: Viewer, raw: bytes, now: float) -> None:
        decoded = json.loads(raw)
        for item in decoded if isinstance(decoded, list) else [decoded]:
            kind = item.get("type")
            mine = kind == "chat.accepted" and item.get("target_user") == viewer.user
            if (mine or kind == "error") and viewer.acks:
                nonce = viewer.acks.pop(0)  # acks come back in the order the lines were sent
                if mine:
                    self.acked.append(nonce)
                    self.ack_ms.append((now - self.sent[nonce]) * 1000)
                else:
                    self.refused[item.get("code", "error")] += 1

    async def send(self, phase: int, seconds: float) -> dict[str, Any]:
        """``rate`` lines a second from this process's senders in turn, for ``seconds``."""
        spec, ours = self.spec, len(self.acked)
        rate, senders, children, index = (
            spec["rate"],
            spec["senders"],
            spec["children"],
            spec["index"],
        )
        start, k, lines = time.perf_counter(), 0, []
        while (due := start + k / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            i = self.count % senders
            nonce = self.count * children + index
            viewer, sent = self.viewers[i], self.now()
            assert viewer.ws is not None, "a sender could not connect"
            text = f"问题{self.count % 97}号 这件尺码多大 #{phase}n{nonce}@{sent:.4f}"
            body = {"type": "chat", "user": {"id": "x", "name": f"买家{i}"}, "text": text}
            self.sent[nonce] = sent
            viewer.acks.append(nonce)
            viewer.ws.send(json.dumps(body, ensure_ascii=False))
            lines.append(nonce)
            self.count, k = self.count + 1, k + 1
        with contextlib.suppress(TimeoutError):  # the last acks
            async with asyncio.timeout(30):
                while any(v.acks for v in self.viewers[:senders]):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        acked = self.acked[ours:]
        return {
            "sent": {n: self.sent[n] for n in lines},
            "acked": acked,
            "unacked": sum(len(v.acks) for v in self.viewers[:senders]),
            "refused": dict(self.refused),
            "ack_ms": self.ack_ms[ours:],
            "send_s": time.perf_counter() - start,
        }

    async def expect(self, phase: int, nonces: list[int], drain_s: float) -> dict[str, Any]:
        """Wait until every viewer has every acknowledged line (or ``drain_s``), then count."""

        for viewer in self.viewers:  # room for every nonce, received or not
            viewer.got.extend(bytes(max(0, max(nonces, default=0) + 1 - len(viewer.got))))

        def missing(viewer: Viewer) -> int:
            got = viewer.got
            return sum(1 for n in nonces if n >= len(got) or not got[n])

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_s):
                while any(v.closed is None and missing(v) for v in self.viewers):  # noqa: ASYNC110
                    await asyncio.sleep(0.25)
        groups: dict[str, Any] = {}
        for group in GROUPS:
            mine = [v for v in self.viewers if v.group == group]
            got = [len(nonces) - missing(v) for v in mine]
            groups[group] = {
                "viewers": len(mine),
                "received": got,
                "duplicates": sum(v.got[n] - 1 for v in mine for n in nonces if v.got[n] > 1),
                "closed": dict(Counter(v.closed for v in mine if v.closed)),
                "hist": dict(self.hist.get((phase, group), Counter())),
            }
        wanted = set(nonces)
        lines = {n: line for n, line in self.lines.items() if n in wanted}
        return {"groups": groups, "lines": lines, "host_got": len(wanted & self.host_got)}

    async def close(self) -> None:
        for sock in [self.host, *(v.ws for v in self.viewers)]:
            if sock is not None:
                sock.close()
        await asyncio.sleep(2)  # the closing handshakes


async def drive(spec: dict[str, Any]) -> None:
    raise_fd_limit()
    load = Load(spec)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    def reply(what: str, payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps({"event": what, **payload}) + "\n")
        sys.stdout.flush()

    reply("ready", await load.connect_all())
    while line := await stdin.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "send":
            reply("sent", await load.send(cmd["phase"], cmd["seconds"]))
        elif cmd["cmd"] == "expect":
            reply("phase", await load.expect(cmd["phase"], cmd["nonces"], cmd["drain_s"]))
        else:
            break
    await load.close()


# --- the parent's side ---


class Child:
    """One load process (bench/scale_load.py), asked one JSON line at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, spec: dict[str, Any]) -> Child:
        args = ["-m", "bench.scale_load", "--spec", json.dumps(spec)]
        pipe = asyncio.subprocess.PIPE
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, stdin=pipe, stdout=pipe, limit=1 << 28
        )
        return cls(proc)

    async def ask(self, cmd: dict[str, Any] | None, want: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if cmd is not None:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load process exited ({await self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        assert answer.pop("event") == want, answer
        return answer

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.ask({"cmd": "quit"}, "none")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 60)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def start_load(urls: list[str], args: argparse.Namespace, host: str | None) -> list[Child]:
    """One load process per URL, each with its share of the viewers, senders and rate."""
    k = len(urls)
    specs = [
        {"url": url, "viewers": args.viewers // k + (i < args.viewers % k), "index": i,
         "senders": args.senders // k, "rate": args.rate / k, "children": k, "t0": args.t0,
         "host_url": host if i == 0 else None}
        for i, url in enumerate(urls)
    ]  # fmt: skip
    children = [await Child.start(spec) for spec in specs]
    ready = await asyncio.gather(*(c.ask(None, "ready") for c in children))
    print(f"  viewers connected: {ready}")
    return children


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def machine_busy_s() -> float:
    """CPU seconds every process on the machine spent busy (``/proc/stat``): what is not ours
    in it is another workload competing for the cores."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK  # all but idle and iowait


def rss_mb(pid: int) -> dict[str, float]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    status = dict(line.split(":", 1) for line in lines)
    return {k: round(int(status[f"Vm{k}"].split()[0]) / 1024, 1) for k in ("RSS", "HWM")}


async def bare_server(port: int) -> None:
    """The baseline: a websockets server that acks each chat line and broadcasts it to all."""
    raise_fd_limit()
    clients: set[ServerConnection] = set()

    async def handler(conn: ServerConnection) -> None:
        user = uuid.uuid4().hex
        await conn.send(json.dumps({"type": "session", "user_id": user, "session": user}))
        clients.add(conn)
        try:
            async for raw in conn:
                chat = json.loads(raw)
                chat.update(id=uuid.uuid4().hex, ts=time.time(), user={**chat["user"], "id": user})
                ack = {"type": "chat.accepted", "chat_id": chat["id"], "target_user": user}
                await conn.send(json.dumps(ack))
                broadcast(clients, json.dumps(chat, ensure_ascii=False))
        finally:
            clients.discard(conn)

    async def health(conn: ServerConnection, request: Any) -> Any:
        return conn.respond(200, "ok") if request.path == "/healthz" else None

    async with serve(
        handler, "127.0.0.1", port, process_request=health, max_size=None, compression=None
    ):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", help="this load process: JSON")
    parser.add_argument("--bare", type=int, help="serve the bare broadcast server on this port")
    ns = parser.parse_args()
    asyncio.run(bare_server(ns.bare) if ns.bare else drive(json.loads(ns.spec)))
