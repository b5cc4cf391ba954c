"""Embedded llama.cpp backend: one shared model, one worker thread, time-sliced across rooms."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assistant.brain.llm.base import BadStructuredOutput, LLMUnavailable, Message, T
from assistant.brain.llm.fair import FairQueue
from assistant.brain.llm.load import load
from assistant.brain.llm.prefix import PrefixCache
from assistant.brain.llm.settings import LLMSettings

log = logging.getLogger(__name__)
_END = object()
# Tokens a priming job evaluates per turn (about two seconds on two CPU cores).
PRIME_CHUNK = 64


@dataclass
class _Job:
    prompt: str
    remaining: int
    temperature: float
    stop: list[str]
    grammar: Any
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue[Any]
    preemptible: bool
    keep: bool = False  # save the evaluated prompt's state: its prefix will come back
    prime: bool = False  # only evaluate the prompt, a chunk per turn
    produced: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)

    def push(self, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)


def _fresh(job: _Job) -> bool:
    """A job still waiting for its first token: the only kind worth preempting for (a resumed
    job would re-evaluate its prompt, so yielding to it would only thrash the cache)."""
    return not job.produced and not job.cancelled.is_set()


class LlamaCppLLM:
    """Jobs run one at a time, round-robin across rooms; a running job yields the model after
    ``chunk_tokens`` tokens when another room's job waits for its first token, and later
    resumes from its text so far (llama.cpp reuses the shared prompt prefix)."""

    name = "llamacpp"

    def __init__(self, settings: LLMSettings, model_path: Path, *, install_hint: str = "") -> None:
        self.settings = settings
        self.model_path = model_path
        self.install_hint = install_hint
        self._queue: FairQueue[_Job] = FairQueue(settings.queue_size)
        self._llama: Any = None
        self._format: Any = None
        self._thread: threading.Thread | None = None
        self._prefixes = PrefixCache(settings.prefix_cache_mb << 20)
        self._load_lock = threading.Lock()
        self._closing = threading.Event()
        self.slices = 0
        self.preemptions = 0

    @property
    def prefix_hits(self) -> int:
        """Calls that started from a saved prompt prefix instead of evaluating it again."""
        return self._prefixes.hits

    # -- lifecycle -----------------------------------------------------------------------------

    def _load(self) -> None:
        with self._load_lock:
            if self._llama is None:
                self._llama, self._format = load(self.settings, self.model_path, self.install_hint)

    async def start(self) -> None:
        """Load the model in a thread and start the worker; raises LLMUnavailable if it can't."""
        await asyncio.to_thread(self._load)
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="llamacpp", daemon=True)
            self._thread.start()

    async def close(self) -> None:
        self._closing.set()
        self._queue.close()
        for job in self._queue.drain():
            job.cancelled.set()
            job.push(LLMUnavailable("LLM closed"))
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        self._llama = None

    # -- the worker thread ---------------------------------------------------------------------

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            room_id, job = item
            if job.cancelled.is_set():
                continue
            try:
                if job.prime:
                    self._prime_slice(room_id, job)
                else:
                    self._slice(room_id, job)
            except Exception as exc:  # a model failure must reach the caller, not kill the worker
                log.exception("llama.cpp job failed")
                job.push(LLMUnavailable(f"llama.cpp failed: {exc}"))

    def _prime_slice(self, room_id: str, job: _Job) -> None:
        """A long prompt is primed a chunk per turn: a viewer's question waits at most one
        chunk behind it."""
        tokens = self._llama.tokenize(job.prompt.encode(), True, True)
        if self._prefixes.advance(self._llama, tokens, PRIME_CHUNK) or self._closing.is_set():
            job.push(_END)
        else:
            self._queue.put(room_id, job, front=True)

    def _slice(self, room_id: str, job: _Job) -> None:
        self.slices += 1
        # Tokenised here (BOS as the model wants it) so a saved prefix state can be restored
        # before llama.cpp compares the prompt with what it holds.
        tokens = self._llama.tokenize((job.prompt + job.produced).encode(), True, True)
        self._prefixes.restore(self._llama, tokens)
        stream = self._llama.create_completion(
            tokens,
            max_tokens=job.remaining,
            temperature=job.temperature,
            stop=job.stop or None,
            grammar=job.grammar,
            stream=True,
        )
        n = 0
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                text: str = choice["text"]
                if text:
                    job.produced += text
                    job.push(text)
                n += 1
                job.remaining -= 1
                if choice.get("finish_reason") or job.remaining <= 0 or job.cancelled.is_set():
                    break
                if self._closing.is_set():
                    job.push(LLMUnavailable("LLM closed"))
                    return
                if (
                    job.preemptible
                    and n >= self.settings.chunk_tokens
                    and self._queue.others_waiting(room_id, _fresh)
                ):
                    self.preemptions += 1
                    self._queue.put(room_id, job, front=True)
                    return
        finally:
            stream.close()
        if job.keep:
            self._prefixes.save(self._llama)
        job.push(_END)

    # -- the async API -------------------------------------------------------------------------

    def _prompt(self, messages: list[Message]) -> str:
        result = self._format(messages=[m.model_dump() for m in messages])
        prompt: str = result.prompt
        return prompt

    async def _submit(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
        grammar: Any,
        room_id: str,
        preemptible: bool,
        keep: bool = False,
        prime: bool = False,
    ) -> _Job:
        if self._thread is None:
            await self.start()
        job = _Job(
            prompt=self._prompt(messages),
            remaining=max_tokens,
            temperature=temperature,
            stop=stop or [],
            grammar=grammar,
            loop=asyncio.get_running_loop(),
            out=asyncio.Queue(),
            preemptible=preemptible,
            keep=keep,
            prime=prime,
        )
        self._queue.put(room_id, job)
        return job

    async def _drain(self, job: _Job) -> AsyncIterator[str]:
        try:
            while (item := await job.out.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancelled.set()

    async def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 128,
        temperature: float | None = None,
        stop: list[str] | None = None,
        room_id: str = "",
    ) -> AsyncIterator[str]:
        temp = self.settings.temperature if temperature is None else temperature
        job = await self._submit(
            messages,
            max_tokens=max_tokens,
            temperature=temp,
            stop=stop,
            grammar=None,
            room_id=room_id,
            preemptible=True,
        )
        async for piece in self._drain(job):
            yield piece

    async def prime(self, messages: list[Message], *, room_id: str = "") -> None:
        """Evaluate a prompt now, a chunk per turn, and keep its state, so calls sharing its
        prefix start warm."""
        job = await self._submit(
            messages,
            max_tokens=0,
            temperature=0.0,
            stop=None,
            grammar=None,
            room_id=room_id,
            preemptible=False,
            prime=True,
        )
        async for _ in self._drain(job):
            pass

    async def structured(
        self, messages: list[Message], schema: type[T], *, max_tokens: int = 64, room_id: str = ""
    ) -> T:
        from llama_cpp.llama_grammar import LlamaGrammar

        grammar = LlamaGrammar.from_json_schema(
            json.dumps(schema.model_json_schema()), verbose=False
        )
        job = await self._submit(
            messages,
            max_tokens=max_tokens,
            temperature=0.0,
            stop=None,
            grammar=grammar,
            room_id=room_id,
            preemptible=False,
            keep=True,
        )
        text = "".join([p async for p in self._drain(job)])
        try:
            return schema.model_validate_json(text)
        except ValidationError as exc:
            raise BadStructuredOutput(f"model JSON did not validate: {text[:200]!r}") from exc
