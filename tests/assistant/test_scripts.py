"""Scripts: a plan from the card, phrased a section at a time, checked sentence by sentence."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from assistant.approved import Approved
from assistant.brain.llm.base import Message
from assistant.brain.llm.settings import ScriptSettings
from assistant.brain.scripts import quality
from assistant.catalog import Catalog, Product
from assistant.events import Chat, ScriptApprove, ScriptRequest, StageInfo, User, VisionUpdate
from assistant.text import sentences
from tests.assistant.conftest import Harness, HarnessFactory
from tests.fakes.assistant_llm import ScriptedLLM

SKU = "HM-CUP-316-500"
_FACT = re.compile(r"这一段[^：]*：(.+)\n")


def fact_of(messages: list[Message]) -> str:
    """The card line a section's prompt hands the model."""
    m = _FACT.search(messages[-1].content)
    assert m is not None, messages[-1].content
    return m.group(1)


def echo(messages: list[Message]) -> str:
    """A model that says each fact it is given, in its own short sentence."""
    return f"大家注意，{fact_of(messages)}，真的很贴心。"


# What a model might say in its own words, each unlike the others.
_OWN_WORDS = [
    "这个真的很好用，我自己每天都在用。",
    "拿在手里很有质感，做工很细。",
    "放在包里不占地方，出门很方便。",
    "家里人用了都说好，回购了好几次。",
    "颜色很耐看，怎么搭都好看。",
    "清洗起来也省事，冲一冲就干净。",
    "送人也很体面，包装很用心。",
    "早上装好，下午拿出来还是热乎的。",
    "上班族和学生党都很适合。",
    "细节做得到位，用久了也不松。",
]


async def _script(h: Harness, room: str, **kw: object) -> ScriptRequest:
    req = ScriptRequest(room_id=room, **kw)
    await h.bus.publish(req)
    await h.until(lambda: bool(h.of("script", request_id=req.id)))
    return req


def product(catalog: Catalog) -> Product:
    found = catalog.get(SKU)
    assert found is not None
    return found


async def test_script_streams_section_by_section(harness: HarnessFactory, catalog: Catalog) -> None:
    llm = ScriptedLLM(echo)
    h = await harness(llm)
    await h.open("r1", catalog)
    req = await _script(h, "r1", sku=SKU, style="gentle", seconds=60)
    script = h.of("script", request_id=req.id)[0]
    deltas = h.of("script.delta", request_id=req.id)
    assert "".join(d.delta for d in deltas) == script.text and not script.fallback
    kinds = [s.kind for s in script.sections]
    assert kinds[0] == "hook" and kinds[-2:] == ["price", "cta"]
    assert {"point", "proof"} <= set(kinds)
    cup = product(catalog)
    assert f"{cup.price:g}元" in script.sections[-2].text  # the code states the price
    assert f"{cup.link}号链接" in script.sections[-1].text  # and how to order
    assert deltas[0].section == 0 and deltas[0].delta == script.sections[0].text
    asked = [fact_of(m) for m in llm.calls]
    card = [*cup.selling_points, *(f"{k}：{v}" for k, v in cup.attributes.items())]
    assert asked and all(any(a.startswith(c) for c in card) or "？" in a for a in asked)
    assert all("温柔" in m[0].content for m in llm.calls)  # the style reaches the model
    assert len(llm.calls) <= ScriptSettings().model_sections


async def test_a_clause_said_twice_is_said_once(harness: HarnessFactory, catalog: Catalog) -> None:
    clause = "非常适合办公室下午茶和学生课间零食"
    h = await harness(ScriptedLLM(lambda m: f"{clause}，{fact_of(m)}。"))
    await h.open("r1", catalog)
    req = await _script(h, "r1", sku=SKU)
    text = h.of("script", request_id=req.id)[0].text
    assert text.count(clause) == 1
    assert quality.repeated_within(text) == 0


async def test_next_script_covers_new_points_and_repeats_nothing(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    llm = ScriptedLLM(echo)
    h = await harness(llm)
    await h.open("r1", catalog)
    texts, facts = [], []
    for style in ("energetic", "gentle", "professional"):
        before = len(llm.calls)
        req = await _script(h, "r1", sku=SKU, seconds=60, style=style)
        texts.append(h.of("script", request_id=req.id)[0].text)
        facts.append([fact_of(m) for m in llm.calls[before:]])
    assert quality.repeated_across(texts) == 0
    assert facts[1][0] not in facts[0]  # the second script moves on to the card's next lines
    cup = product(catalog)
    card = [*cup.selling_points, *(str(v) for v in cup.attributes.values())]
    missing = [c for c in card if not quality.covered(c, "\n".join(texts))]
    assert not missing, (missing, texts)  # three scripts say the whole card
    # once the card is said, the model is asked to say a line again in new words
    assert any("换个角度" in m[-1].content for m in llm.calls)


async def test_each_style_leans_on_its_part_of_the_card(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    h = await harness(ScriptedLLM(echo))
    for style in ("energetic", "professional"):
        await h.open(style, catalog)
    first = {}
    for style in ("energetic", "professional"):
        req = await _script(h, style, sku=SKU, style=style)
        sections = h.of("script", request_id=req.id)[0].sections
        first[style] = [s.kind for s in sections if s.kind in ("point", "proof")][:3]
    assert first["energetic"].count("point") > first["professional"].count("point")


async def test_invented_names_numbers_and_roles_are_not_spoken(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    lies = iter(
        [
            "我叫小明，这款杯子真的好用。",
            "我是福州茶叶主播，这款杯子很好。",
            "这款杯子今天只要9.9元！",
            "这款杯子通过了欧盟CE认证。",
        ]
    )
    h = await harness(ScriptedLLM(lambda m: next(lies, echo(m))))
    await h.open("r1", catalog)
    req = await _script(h, "r1", sku=SKU)
    script = h.of("script", request_id=req.id)[0]
    for word in ("小明", "主播", "9.9", "认证"):
        assert word not in script.text
    first_model = next(s for s in script.sections if s.kind in ("point", "proof"))
    cup = product(catalog)
    card = " ".join([*cup.selling_points, *(f"{k}是{v}" for k, v in cup.attributes.items())])
    assert first_model.text.rstrip("。") in card  # replaced by the card's own line
    out = (await h.store.outputs("r1", "script"))[-1]
    assert out["rejected"]["entity"] >= 3 and out["rejected"]["number"] >= 1


async def test_llm_down_gives_a_script_from_the_card(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    h = await harness(ScriptedLLM("", fail=True))
    await h.open("r1", catalog, language="en")
    req = await _script(h, "r1", sku=SKU)
    script = h.of("script", request_id=req.id)[0]
    cup = product(catalog)
    assert script.fallback and f"¥{cup.price:g}" in script.text
    assert f"link {cup.link}" in script.text
    assert h.metric("lca_brain_scripts_total", fallback="true") == 1
    assert h.metric("lca_brain_llm_failures_total", kind="LLMUnavailable") >= 1


async def test_length_follows_the_requested_seconds(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    h = await harness(ScriptedLLM(echo))
    await h.open("r1", catalog)
    rate = ScriptSettings().chars_per_second["zh"]
    lengths = {}
    for seconds in (30, 60):
        req = await _script(h, "r1", sku="FD-TEA-LJ-250", seconds=seconds)
        text = h.of("script", request_id=req.id)[0].text
        lengths[seconds] = len(text)
        assert quality.length_error(text, seconds, rate) <= 0.2, (seconds, text)
    assert lengths[60] > lengths[30]


async def test_context_has_questions_and_vision(harness: HarnessFactory, catalog: Catalog) -> None:
    llm = ScriptedLLM(echo)
    h = await harness(llm)
    await h.open("r1", catalog)
    for i, text in enumerate(["杯子尺寸多大", "多高呀", "size?"]):
        chat = Chat(room_id="r1", user=User(id=f"u{i}", name="v"), text=text)
        understood = await h.understander.read(chat)  # as triage stores it
        await h.store.add_chat(chat, "queued", intent=understood.intent)
    await h.bus.publish(
        VisionUpdate(
            room_id="r1",
            frame_id="f",
            width=1,
            height=1,
            counts={"cup": 12},
            stage=StageInfo(sku=SKU, confidence=0.9),
        )
    )
    await h.until(lambda: h.brain.rooms["r1"].vision is not None)
    await _script(h, "r1")
    first = llm.calls[0][-1].content
    assert "很多观众在问尺寸规格（3条）" in first and "cup x12" in first
    assert "cup x12" not in llm.calls[1][-1].content  # said once, not in every section


async def test_host_rewrites_a_section_shortens_and_approves(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    lines = iter(_OWN_WORDS)
    h = await harness(ScriptedLLM(lambda m: next(lines)))
    await h.open("r1", catalog)
    first = await _script(h, "r1", sku=SKU)
    base = h.of("script", request_id=first.id)[0]
    target = next(s.index for s in base.sections if s.kind == "point")
    redo = await _script(h, "r1", sku=SKU, action="regenerate", base=first.id, section=target)
    again = h.of("script", request_id=redo.id)[0]
    old = {s.index: s.text for s in base.sections}
    new = {s.index: s.text for s in again.sections}
    assert new.keys() == old.keys() and new[target] != old[target]
    assert {i: t for i, t in new.items() if i != target} == {
        i: t for i, t in old.items() if i != target
    }
    short = await _script(h, "r1", sku=SKU, action="shorten", base=first.id)
    cut = h.of("script", request_id=short.id)[0]
    assert len(cut.text) < len(base.text)
    assert [s.kind for s in cut.sections][-2:] == ["price", "cta"] and cut.base == first.id
    await h.bus.publish(ScriptApprove(room_id="r1", request_id=redo.id))
    await h.until(lambda: bool(h.of("script.approved", request_id=redo.id)))
    approved = await Approved.load(h.store, "r1")
    kept = approved.pick(SKU, 0)
    assert kept is not None and kept.text == again.text


def test_an_edit_must_name_its_script() -> None:
    with pytest.raises(ValidationError):
        ScriptRequest(action="regenerate", sku=SKU, base="x")
    with pytest.raises(ValidationError):
        ScriptRequest(action="shorten", sku=SKU)


async def test_sentences_stream_before_the_model_is_done(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    llm = ScriptedLLM(echo, delay=0.05)
    h = await harness(llm)
    await h.open("r1", catalog)
    req = ScriptRequest(room_id="r1", sku=SKU)
    await h.bus.publish(req)
    await h.until(lambda: len(h.of("script.delta", request_id=req.id)) >= 2)
    assert not h.of("script", request_id=req.id)  # the anchor can start on the first ones
    await h.until(lambda: bool(h.of("script", request_id=req.id)))
    assert len(sentences(h.of("script", request_id=req.id)[0].text)) >= 4
