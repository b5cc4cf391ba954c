"""End to end through the real app: chat is triaged, answered from the catalog, recommended on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from assistant.brain.llm.settings import AnswerSettings, LLMSettings
from assistant.catalog import Catalog
from assistant.events import Answer, Recommendation, Script
from tests.conftest import DEMO_CATALOG, demo_room, make_settings, ws_url
from tests.server import serve
from tests.wsclient import room_client

pytestmark = pytest.mark.slow


async def test_viewer_question_answer_and_recommendation(tmp_path: Path) -> None:
    catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))
    product = next(p for p in catalog.products if p.stock > 0)
    settings = make_settings(
        tmp_path,
        capabilities=["brain", "recommend"],
        llm=LLMSettings(backend="none"),
        answers=AnswerSettings(phrase_with_llm=False),
    )
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await demo_room(http)
        async with (
            room_client(ws_url(url, room, "host")) as host,
            room_client(ws_url(url, room, "viewer")) as viewer,
        ):
            me = await viewer.session()
            # the price question and its status are tests/test_fast_path.py, with no model
            shipping = next(f for f in product.faq if "快递" in f.q or "发货" in f.q)
            await viewer.chat(f"{product.title.split()[0]}发什么快递？")
            faq_answer = await viewer.expect("answer", timeout=30)
            assert isinstance(faq_answer, Answer) and shipping.a in faq_answer.text

            await viewer.chat("推荐一个送妈妈的礼物，200元以内")
            rec = await viewer.expect("recommendation", timeout=60)
            assert isinstance(rec, Recommendation) and rec.target_user == me.user_id
            assert rec.items
            for item in rec.items:
                listed = catalog.get(item.sku)
                assert listed is not None and listed.stock > 0 and listed.price <= 200

            await host.send({"type": "script.request", "sku": product.sku, "seconds": 20})
            await host.expect("script.delta", timeout=30)
            script = await host.expect("script", timeout=30)
            assert isinstance(script, Script) and script.sku == product.sku
            assert script.fallback  # no model in this test: the code states the card
            assert f"{product.price:g}元" in script.text
            assert product.selling_points[0] in script.text
