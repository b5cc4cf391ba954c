"""Writes every compliance change to the store's audit log (outputs of kind ``compliance``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from assistant.compliance.gate import Change, Rewrite

if TYPE_CHECKING:
    from prometheus_client import Counter

    from assistant.store import Store


async def audit(
    store: Store,
    room_id: str,
    rewrite: Rewrite,
    *,
    before: str | None = None,
    source: str = "",
    ref: str | None = None,
) -> None:
    """Record one rewrite (room, text before and after, each rule); no-op when nothing changed."""
    if not rewrite.changes:
        return
    await store.add_output(
        room_id,
        "compliance",
        {
            "room_id": room_id,
            "source": source,
            "text_before": before,
            "text_after": rewrite.text,
            "changes": [c.model_dump() for c in rewrite.changes],
            "rules": [c.rule for c in rewrite.changes],
        },
        ref=ref,
    )


async def audit_output(
    store: Store,
    room_id: str,
    text: str,
    changes: list[Change],
    *,
    source: Literal["answer", "script"],
    ref: str,
    counter: Counter,
) -> None:
    """What the gate changed in an answer or a script: audited to the store, counted by source."""
    await audit(store, room_id, Rewrite(text=text, changes=changes), source=source, ref=ref)
    counter.labels(source).inc(len(changes))
