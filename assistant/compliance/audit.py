"""Writes every compliance change to the store's audit log (outputs of kind ``compliance``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.compliance.gate import Rewrite
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
