"""A bounded fair queue: jobs wait per room and are served round-robin across rooms."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Generic, TypeVar

from assistant.brain.llm.base import LLMUnavailable

J = TypeVar("J")


class QueueFull(LLMUnavailable):
    code = "llm_queue_full"


class FairQueue(Generic[J]):
    """Thread-safe; ``get`` takes the oldest job of the next room in turn (round-robin)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._rooms: OrderedDict[str, deque[J]] = OrderedDict()
        self._size = 0
        self._closed = False
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return self._size

    def put(self, room_id: str, job: J, *, front: bool = False) -> None:
        """Queue a job; ``front`` puts a preempted job back at the head of its room's line."""
        with self._cond:
            if self._closed:
                raise LLMUnavailable("LLM worker is closed", retryable=False)
            if self._size >= self.maxsize and not front:
                raise QueueFull(f"LLM queue full ({self.maxsize} jobs)")
            line = self._rooms.get(room_id)
            if line is None:
                line = self._rooms[room_id] = deque()
            if front:
                line.appendleft(job)
            else:
                line.append(job)
            self._size += 1
            self._cond.notify()

    def others_waiting(self, room_id: str, pred: Callable[[J], bool] | None = None) -> bool:
        """Whether another room has a job queued (matching ``pred``): time to yield the model."""
        with self._cond:
            return any(
                r != room_id and any(pred is None or pred(j) for j in line)
                for r, line in self._rooms.items()
            )

    def get(self, timeout: float | None = None) -> tuple[str, J] | None:
        """Block for the next job; None when closed (or on timeout)."""
        with self._cond:
            while self._size == 0 and not self._closed:
                if not self._cond.wait(timeout):
                    return None
            if self._closed:
                return None
            room_id, line = next(iter(self._rooms.items()))
            job = line.popleft()
            self._size -= 1
            del self._rooms[room_id]
            if line:
                self._rooms[room_id] = line  # the room goes to the back of the rotation
            return room_id, job

    def drain(self) -> list[J]:
        with self._cond:
            jobs = [j for line in self._rooms.values() for j in line]
            self._rooms.clear()
            self._size = 0
            return jobs

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
