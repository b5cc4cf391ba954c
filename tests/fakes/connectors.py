"""Connectors that follow a script, for tests of the room side (manager, sink, replies)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from assistant.connectors.base import ConnectorKind, PlatformMessage, Sink

Step = Callable[[Sink], Awaitable[None]]


class ScriptedConnector:
    """Each ``run`` plays the next step (the last one again once the script is over)."""

    kind: ConnectorKind = "relay"

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.runs = 0

    async def run(self, sink: Sink) -> None:
        step = self.steps[min(self.runs, len(self.steps) - 1)]
        self.runs += 1
        await step(sink)


class ReplyingConnector(ScriptedConnector):
    """A scripted connector whose platform takes replies: it records them, or refuses all."""

    def __init__(self, steps: Sequence[Step], *, accept: bool = True) -> None:
        super().__init__(steps)
        self.accept = accept
        self.replies: list[tuple[str, PlatformMessage | None]] = []

    async def reply(self, text: str, to: PlatformMessage | None) -> bool:
        self.replies.append((text, to))
        return self.accept
