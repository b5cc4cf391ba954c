"""Scripts: streamed from the card, template fallback, variation over time, questions and vision."""

from __future__ import annotations

from assistant.catalog import Catalog
from assistant.events import Chat, ScriptRequest, StageInfo, User, VisionUpdate
from assistant.llm.base import Message
from assistant.scripts.variation import containment
from tests.assistant.conftest import Harness, HarnessFactory
from tests.fakes.assistant_llm import ScriptedLLM

SKU = "HM-CUP-316-500"
FIRST = "这款保温杯容量500ml，装一天的水刚好。内胆是316不锈钢，放心泡茶。现在只要129元！"
SECOND = (
    "这款保温杯容量500ml，装一天的水刚好。雾霾蓝和奶白两个颜色都很耐看。带茶隔，办公室泡茶很方便！"
)


async def _script(h: Harness, room: str, **kw: object) -> ScriptRequest:
    req = ScriptRequest(room_id=room, **kw)
    await h.bus.publish(req)
    await h.until(lambda: bool(h.of("script", request_id=req.id)))
    return req


async def test_script_streams_from_card(harness: HarnessFactory, catalog: Catalog) -> None:
    llm = ScriptedLLM(FIRST)
    h = await harness(llm)
    await h.open("r1", catalog)
    req = await _script(h, "r1", sku=SKU, style="gentle", seconds=30)
    script = h.of("script", request_id=req.id)[0]
    deltas = h.of("script.delta", request_id=req.id)
    assert deltas and "".join(d.delta for d in deltas) == script.text
    assert not script.fallback and script.sku == SKU and script.style == "gentle"
    assert "129元" in script.text
    prompt = llm.calls[0][-1].content
    assert "316" in prompt and "温柔" in prompt  # the card and the style reach the model
    stored = await h.store.outputs("r1", "script")
    assert stored[-1]["request_id"] == req.id


async def test_next_script_does_not_repeat_sentences(
    harness: HarnessFactory, catalog: Catalog
) -> None:
    replies = iter([FIRST, SECOND])
    llm = ScriptedLLM(lambda _m: next(replies))
    h = await harness(llm)
    await h.open("r1", catalog)
    first = await _script(h, "r1", sku=SKU)
    second = await _script(h, "r1", sku=SKU)
    t1 = h.of("script", request_id=first.id)[0].text
    t2 = h.of("script", request_id=second.id)[0].text
    assert "装一天的水刚好" in t1 and "装一天的水刚好" not in t2
    assert containment(t2, [t1]) < containment(SECOND, [FIRST])
    assert "这次重点讲" in llm.calls[1][-1].content  # the second prompt asks for a new focus


async def test_llm_down_gives_labelled_template(harness: HarnessFactory, catalog: Catalog) -> None:
    h = await harness(ScriptedLLM("", fail=True))
    await h.open("r1", catalog, language="en")
    req = await _script(h, "r1", sku=SKU)
    script = h.of("script", request_id=req.id)[0]
    cup = catalog.get(SKU)
    assert cup is not None
    assert script.fallback and script.text.startswith("[Template script]")
    assert f"¥{cup.price:g}" in script.text
    assert h.metric("lca_brain_scripts_total", fallback="true") == 1
    assert h.metric("lca_brain_llm_failures_total", kind="LLMUnavailable") == 1


async def test_template_varies_between_scripts(harness: HarnessFactory, catalog: Catalog) -> None:
    h = await harness()
    await h.open("r1", catalog)
    a = await _script(h, "r1", sku=SKU)
    b = await _script(h, "r1", sku=SKU)
    ta, tb = (h.of("script", request_id=r.id)[0].text for r in (a, b))
    assert ta.startswith("【模板话术】") and ta != tb


async def test_context_has_questions_and_vision(harness: HarnessFactory, catalog: Catalog) -> None:
    llm = ScriptedLLM(FIRST)
    h = await harness(llm)
    await h.open("r1", catalog)
    for i, text in enumerate(["杯子尺寸多大", "多高呀", "size?"]):
        chat = Chat(room_id="r1", user=User(id=f"u{i}", name="v"), text=text)
        understood = await h.understander.read(chat)  # as triage stores it
        await h.store.add_chat(chat, "queued", intent=understood.intent)
    await h.bus.publish(
        VisionUpdate(room_id="r1", frame_id="f", width=1, height=1, counts={"cup": 12},
                     stage=StageInfo(sku=SKU, confidence=0.9))
    )  # fmt: skip
    await h.until(lambda: h.brain.rooms["r1"].vision is not None)
    await _script(h, "r1")
    prompt: Message = llm.calls[0][-1]
    assert "很多观众在问尺寸规格（3条）" in prompt.content and "cup x12" in prompt.content


async def test_lying_script_sentence_is_cut(harness: HarnessFactory, catalog: Catalog) -> None:
    h = await harness(ScriptedLLM("这款保温杯真的很好用，内胆是316不锈钢。今天只要9.9元，快抢！"))
    await h.open("r1", catalog)
    req = await _script(h, "r1", sku=SKU)
    script = h.of("script", request_id=req.id)[0]
    assert "9.9" not in script.text and "316" in script.text
