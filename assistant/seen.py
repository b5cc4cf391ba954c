"""A bounded memory of recent keys, for dropping what was already handled once."""

from __future__ import annotations

from collections import deque


class Seen:
    """The last ``size`` keys seen, in a set for the lookup and a ring for the eviction."""

    def __init__(self, size: int = 4096) -> None:
        self._ring: deque[str] = deque(maxlen=size)
        self._keys: set[str] = set()

    def first(self, key: str) -> bool:
        """Whether ``key`` is new (it is remembered from now on)."""
        if key in self._keys:
            return False
        if len(self._ring) == self._ring.maxlen:
            self._keys.discard(self._ring[0])
        self._ring.append(key)
        self._keys.add(key)
        return True
