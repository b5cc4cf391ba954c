"""The LLM protocol every backend implements, its messages and its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from assistant.errors import BackendUnavailable

T = TypeVar("T", bound=BaseModel)


class LLMUnavailable(BackendUnavailable):
    """The model is missing, crashed, overloaded or unreachable."""

    code = "llm_unavailable"


class LLMTimeout(LLMUnavailable):
    code = "llm_timeout"


class BadStructuredOutput(LLMUnavailable):
    """The model's JSON did not validate against the requested schema."""

    code = "llm_bad_output"


class Message(BaseModel):
    """One chat message; viewer text always travels as ``user`` content, never as ``system``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class LLM(Protocol):
    """A chat model: streamed text, or a JSON object validated against a pydantic model."""

    name: str

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 128,
        temperature: float | None = None,
        stop: list[str] | None = None,
        room_id: str = "",
    ) -> AsyncIterator[str]:
        """Yield text pieces as they are generated."""

    async def structured(
        self,
        messages: list[Message],
        schema: type[T],
        *,
        max_tokens: int = 64,
        room_id: str = "",
    ) -> T:
        """Generate JSON constrained to ``schema`` (grammar or response_format) and validate it."""

    async def prime(self, messages: list[Message], *, room_id: str = "") -> None:
        """Evaluate a static prompt ahead of time so later calls that share its prefix start
        warm (llama.cpp keeps the state; a server that caches prompts itself may do nothing)."""

    async def start(self) -> None:
        """Get ready (load the weights, reach the server); raises LLMUnavailable if it can't."""

    async def close(self) -> None:
        """Stop workers and free the model."""


async def collect(stream: AsyncIterator[str]) -> str:
    return "".join([piece async for piece in stream])
