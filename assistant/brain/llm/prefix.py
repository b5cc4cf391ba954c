"""Saved llama.cpp states of evaluated prompts: a product card or catalog index is evaluated once.

llama.cpp only reuses the prefix it evaluated last; questions about different products take
turns, so each one's static prefix (the instructions and the card) is kept here and restored.
llama-cpp-python's own LlamaRAMCache also copies the whole logits buffer (150 MB for a
150k-token vocabulary) on every save, which is why this keeps only the model's state.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from typing import Any

import llama_cpp

# Restoring pays off only when it saves more than a few tokens of evaluation.
MIN_GAIN = 16


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PrefixCache:
    """An LRU of (tokens, state) bounded in bytes; used from the model's worker thread only."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity = capacity_bytes
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._bytes = 0
        self.hits = 0

    def restore(self, llama: Any, tokens: list[int]) -> int:
        """Load the saved state sharing the longest prefix with ``tokens`` when that beats
        what the model holds already; returns the prefix length the model now has."""
        held = common_prefix(llama._input_ids.tolist(), tokens)
        best, best_len = None, held
        for key in self._states:
            n = common_prefix(list(key), tokens)
            if n > best_len:
                best, best_len = key, n
        if best is None or best_len - held < MIN_GAIN:
            return held
        data = self._states[best]
        self._states.move_to_end(best)
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, buf, len(data)) != len(data):
            return 0
        llama.input_ids[: len(best)] = best
        llama.n_tokens = len(best)
        llama._requires_eval = True
        self.hits += 1
        return best_len

    def advance(self, llama: Any, tokens: list[int], chunk: int) -> bool:
        """Evaluate up to ``chunk`` more tokens of ``tokens`` from the best saved prefix and
        keep the state; True once the whole prompt is evaluated."""
        held = self.restore(llama, tokens)
        if held < len(tokens):
            llama.n_tokens = held  # eval() drops whatever the model held past the prefix
            llama.eval(tokens[held : held + chunk])
            self.save(llama)
        return bool(llama.n_tokens >= len(tokens))

    def save(self, llama: Any) -> None:
        """Keep the model's current state under the tokens it has evaluated."""
        key = tuple(llama._input_ids.tolist())
        if not key or key in self._states:
            return
        for shorter in [k for k in self._states if len(k) < len(key) and key[: len(k)] == k]:
            self._bytes -= len(self._states.pop(shorter))  # a prefix of this one: no more use
        size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llama._ctx.ctx, buf, size)
        if written > self.capacity:
            return
        self._states[key] = ctypes.string_at(buf, written)
        self._bytes += written
        while self._bytes > self.capacity:
            _, old = self._states.popitem(last=False)
            self._bytes -= len(old)
