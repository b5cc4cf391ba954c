"""Vision benchmark: ms per 1280x720 frame per model, pipeline fps with 1 and 4 rooms, overhead."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI
from PIL import Image, ImageDraw, ImageFont
from prometheus_client import CollectorRegistry
from skimage import data

from assistant.access import Limiter
from assistant.bus.memory import MemoryBus
from assistant.catalog import Catalog
from assistant.compliance import load_gate
from assistant.embedders import EmbedderPool
from assistant.events import ChatTriaged, Frame, VisionUpdate
from assistant.plugins import RoomInfo, Services
from assistant.settings import LimitSettings, Settings
from assistant.stage import StageOwner
from assistant.store import ChatStatus, SqliteStore, Store
from assistant.supervise import Supervisor
from vision import compute
from vision.api import VisionAccess, build_router
from vision.backends import Models
from vision.capability import VisionCapability
from vision.engine import VisionEngine
from vision.image import decode_image
from vision.install import install
from vision.settings import VisionSettings

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


class _NoChat:
    """Vision never pulls chat; Services wants a Backlog all the same."""

    async def next(self, room_id: str) -> ChatTriaged:
        raise NotImplementedError

    async def resolve(self, room_id: str, chat_id: str, status: ChatStatus, **kw: Any) -> bool:
        return True

    def requeue(self, item: ChatTriaged) -> None:
        raise NotImplementedError


def frame_png() -> bytes:
    img = Image.new("RGB", (1280, 720), (245, 243, 238))
    coffee = np.asarray(data.coffee())  # type: ignore[no-untyped-call]
    img.paste(Image.fromarray(coffee).resize((560, 373)), (40, 170))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 44) if Path(FONT).is_file() else ImageFont.load_default()
    for i, line in enumerate(["玻尿酸保湿精华液 30ml", "直播价 ¥199", "Hyaluronic Serum"]):
        draw.text((660, 180 + i * 90), line, font=font, fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)


def per_model(models: Models, raw: bytes, repeats: int) -> dict[str, float]:
    rgb = decode_image(raw, models.settings)
    s = models.settings
    return {
        "decode_png": timed(lambda: decode_image(raw, s), repeats),
        "detection": timed(lambda: models.detector.detect(rgb, s.detect_score), repeats),
        "ocr": timed(lambda: models.ocr.read(rgb, s.ocr_score), repeats),
        "classification": timed(lambda: models.classifier.classify(rgb), repeats),
        "face": timed(lambda: models.face.faces(rgb, s.face_score), repeats),
        "segmentation": timed(lambda: models.segmenter.person_prob(rgb), repeats),
        "foreground_segmentation": timed(lambda: compute.foreground(models, rgb), repeats),
        "scene": timed(lambda: compute.scene(models, rgb), repeats),
        "shelf_count": timed(lambda: compute.shelf_count(models, rgb, []), repeats),
        "similarity": timed(lambda: compute.similar(models, rgb, rgb), repeats),
    }


def opencv_cuda_devices() -> int:
    import cv2

    try:
        return int(cv2.cuda.getCudaEnabledDeviceCount())
    except Exception:  # a wheel without the cuda module
        return 0


def direct_pass(models: Models, raw: bytes) -> None:
    """What one pipeline pass does, called directly: decode, detect, OCR."""
    rgb = decode_image(raw, models.settings)
    models.detector.detect(rgb, models.settings.detect_score)
    models.ocr.read(rgb, models.settings.ocr_score)


async def http_detection(models: Models, raw: bytes, repeats: int) -> float:
    engine = VisionEngine(models.settings, models.model_dir, models)
    # Anonymous and unlimited: this times the route's own overhead, not access control.
    settings = models.settings.model_copy(update={"anonymous": True})
    limiter = Limiter(LimitSettings(vision_per_token="1000000/second"), "")
    with tempfile.TemporaryDirectory() as tmp:
        access = VisionAccess(settings, SqliteStore(Path(tmp) / "s.sqlite3"), limiter)
        app = FastAPI()
        app.include_router(build_router(engine, access))
        return await _time_detection(app, engine, raw, repeats)


async def _time_detection(app: FastAPI, engine: VisionEngine, raw: bytes, repeats: int) -> float:
    body = {"image": base64.b64encode(raw).decode()}
    samples = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=60) as c:
        for i in range(repeats + 1):
            start = time.perf_counter()
            resp = await c.post("/v1/vision/detection", json=body)
            assert resp.status_code == 200
            if i:
                samples.append((time.perf_counter() - start) * 1000)
    engine.close()
    return round(statistics.median(samples), 2)


def _capability(models: Models, bus: MemoryBus, store: Store) -> VisionCapability:
    settings = Settings(model_dir=models.model_dir.parent)
    stage = StageOwner(bus, store)
    limiter = Limiter(settings.limits, settings.bus.redis_url)
    registry = CollectorRegistry()
    services = Services(
        settings,
        bus,
        store,
        registry,
        _NoChat(),
        stage,
        EmbedderPool(),
        limiter,
        Supervisor(registry),
        load_gate(settings.compliance.rules_dir),
    )
    return VisionCapability(services, models.settings, models)


async def paired_overhead(models: Models, raw: bytes, repeats: int) -> dict[str, float]:
    """Interleave a direct pass and a publish->vision.update round trip, so drift cancels."""
    with tempfile.TemporaryDirectory() as tmp:
        bus = MemoryBus()
        store = SqliteStore(Path(tmp) / "o.sqlite3")
        cap = _capability(models, bus, store)
        updates = await bus.subscribe("ovh", ["vision.update"])
        info = RoomInfo(room_id="ovh", title="b", mode="host", language="zh", catalog=Catalog())
        await cap.open_room(info)
        direct: list[float] = []
        service: list[float] = []
        for i in range(repeats + 1):
            start = time.perf_counter()
            direct_pass(models, raw)
            d = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            await bus.publish(Frame(room_id="ovh", data=raw))
            await updates.get()
            if i:  # the first pair warms up
                direct.append(d)
                service.append((time.perf_counter() - start) * 1000)
        await cap.close()
        await bus.close()
        await store.close()
    d_med, s_med = statistics.median(direct), statistics.median(service)
    return {
        "direct_pass_ms": round(d_med, 1),
        "service_pass_ms": round(s_med, 1),
        "service_vs_direct_ratio": round(s_med / d_med, 3),
    }


async def pipeline(models: Models, raw: bytes, rooms: int, seconds: float, fps_in: float) -> Any:
    """Feed every room at ``fps_in`` for ``seconds``; count updates, watch pending depth."""
    with tempfile.TemporaryDirectory() as tmp:
        bus = MemoryBus()
        store = SqliteStore(Path(tmp) / "b.sqlite3")
        cap = _capability(models, bus, store)
        ids = [f"bench{i}" for i in range(rooms)]
        subs = {}
        for r in ids:
            subs[r] = await bus.subscribe(r, ["vision.update"])
            await cap.open_room(
                RoomInfo(room_id=r, title="b", mode="host", language="zh", catalog=Catalog())
            )
        counts = dict.fromkeys(ids, 0)
        latency: list[float] = []

        async def drain(r: str) -> None:
            async for ev in subs[r]:
                if isinstance(ev, VisionUpdate):
                    counts[r] += 1
                    latency.append(ev.latency_ms)

        drains = [asyncio.create_task(drain(r)) for r in ids]
        depth: list[int] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for r in ids:
                await bus.publish(Frame(room_id=r, data=raw))
            # frames waiting anywhere: the rooms' latest-wins slots plus the bus inboxes
            waiting = sum(1 for st in cap.rooms.values() if st.pending is not None)
            depth.append(waiting + sum(bus.depths().values()))
            await asyncio.sleep(1 / fps_in)
        elapsed = time.perf_counter() - start
        await cap.close()
        for t in drains:
            t.cancel()
        await asyncio.gather(*drains, return_exceptions=True)
        await bus.close()
        await store.close()
    fps = {r: round(n / elapsed, 3) for r, n in counts.items()}
    return {
        "rooms": rooms,
        "fps_per_room": fps,
        "min_fps_per_room": min(fps.values()),
        "pass_ms_median": round(statistics.median(latency), 1) if latency else None,
        "frames_waiting_max": max(depth),
        "frames_waiting_last_quarter_max": max(depth[len(depth) * 3 // 4 :]),
        "frames_waiting_bound": 2 * rooms,  # a latest-wins slot per room in the bus and in vision
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--fps-in", type=float, default=10.0)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads per model")
    ap.add_argument("--out", type=Path, default=Path("bench/results/vision.json"))
    args = ap.parse_args()
    settings = VisionSettings(device=args.device, workers=args.workers, threads=args.threads)
    model_dir = settings.resolve_model_dir(Settings().model_dir)
    install(model_dir, log=False)
    models = Models(settings, model_dir)
    raw = frame_png()
    result: dict[str, Any] = {
        "frame": "1280x720 PNG",
        "device": args.device,
        "workers": args.workers,
        "threads": args.threads,
    }
    result["ms_per_frame"] = per_model(models, raw, args.repeats)
    result["ocr_providers"] = getattr(models.ocr, "providers", list)()
    result["opencv_cuda_devices"] = opencv_cuda_devices()
    direct = timed(lambda: direct_pass(models, raw), args.repeats)
    direct_det = timed(
        lambda: models.detector.detect(decode_image(raw, settings), 0.35), args.repeats
    )
    http_det = asyncio.run(http_detection(models, raw, args.repeats))
    one = asyncio.run(pipeline(models, raw, 1, args.seconds, args.fps_in))
    four = asyncio.run(pipeline(models, raw, 4, args.seconds, args.fps_in))
    result["direct_pass_ms"] = direct
    result["paired_overhead"] = asyncio.run(paired_overhead(models, raw, args.repeats))
    result["pipeline_1_room"] = one
    result["pipeline_4_rooms"] = four
    result["overhead"] = {
        "pipeline_pass_ms_vs_direct_ratio": round((one["pass_ms_median"] or 0) / direct, 3),
        "pipeline_fps_vs_direct_fps_ratio": round((1000 / direct) / one["min_fps_per_room"], 3),
        "http_detection_ms": http_det,
        "direct_detection_ms": direct_det,
        "http_vs_direct_ratio": round(http_det / direct_det, 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
