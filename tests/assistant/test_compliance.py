"""The compliance gate: rewrites absolute and efficacy terms, drops clauses, audits every change."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.compliance import ComplianceError, ComplianceGate, Rewrite, audit, load_gate
from assistant.store import Store


@pytest.mark.parametrize(
    ("text", "forbidden", "expected"),
    [
        ("这是最好的杯子", "最好", "很好"),
        ("销量全网第一", "全网第一", "热销"),
        ("国家级工艺", "国家级", "专业级"),
        ("用了100%有效", "100%有效", "很多朋友反馈不错"),
        ("This is the best cup", "the best", "a great"),
    ],
)
def test_rewrites_never_masks(
    gate: ComplianceGate, text: str, forbidden: str, expected: str
) -> None:
    result = gate.rewrite(text)
    assert forbidden not in result.text and expected in result.text and "*" not in result.text
    assert result.changes[0].before == forbidden and result.changes[0].after == expected


def test_unrewritable_clause_is_dropped(gate: ComplianceGate) -> None:
    result = gate.rewrite("这款茶叶口感清香，还能根治失眠，现价268元。")
    assert "根治" not in result.text and "失眠" not in result.text
    assert "口感清香" in result.text and "268元" in result.text
    assert result.changes[0].after == "" and "根治" in result.changes[0].before


def test_category_lists_apply_only_to_their_category(gate: ComplianceGate) -> None:
    assert gate.rewrite("喝了帮助减肥，口感好", category="food").text == "口感好"
    assert gate.rewrite("收纳箱帮你减肥收纳空间", category="home").changes == []
    assert "美白" not in gate.rewrite("美白精华", category="beauty").text


def test_english_terms_respect_word_boundaries(gate: ComplianceGate) -> None:
    assert gate.rewrite("our bestseller list").changes == []
    assert gate.rewrite("BEST price").text == "great price"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["最好", "第一", "根治", "好用", "，", "。", "100%有效", "很", "a"]))
)
def test_gate_output_is_clean(gate: ComplianceGate, parts: list[str]) -> None:
    text = "".join(parts)
    out = gate.rewrite(text, category="food")
    assert gate.violations(out.text, category="food") == []


def test_bad_lists_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nrules:\n  - {term: 最好, rewrite: 最好的}\n")
    with pytest.raises(ComplianceError, match="contains"):
        load_gate(tmp_path)
    with pytest.raises(ComplianceError, match="no compliance"):
        load_gate(tmp_path / "missing")


async def test_audit_writes_room_before_after_rule(gate: ComplianceGate, store: Store) -> None:
    before = "全网最低价，速来"
    result = gate.rewrite(before)
    await audit(store, "r9", result, before=before, source="question")
    await audit(store, "r9", Rewrite(text="ok", changes=[]))  # nothing changed: nothing written
    rows = await store.outputs("r9", "compliance")
    assert len(rows) == 1
    row = rows[0]
    assert row["room_id"] == "r9" and row["text_before"] == before
    assert row["text_after"] == result.text and row["rules"] == ["absolute:全网最低价"]
