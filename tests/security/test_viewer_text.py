"""What a viewer types (a display name, a question) never reaches screen or speech ungated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from assistant.catalog import Catalog, Product
from assistant.events import Answer, Error
from assistant.rooms import RoomCreated
from tests.conftest import DEMO_CATALOG, catalog_brain_settings, demo_room, ws_url
from tests.server import serve
from tests.wsclient import room_client

Served = tuple[str, RoomCreated]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    settings = catalog_brain_settings(tmp_path)
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield url, await demo_room(http)


def in_stock() -> Product:
    catalog = Catalog.model_validate_json(DEMO_CATALOG.read_text(encoding="utf-8"))
    return next(p for p in catalog.products if p.stock > 0)


async def ask(served: Served, text: str, name: str, session: str = "") -> tuple[Answer, str]:
    """The answer a viewer gets, and its session (pass it back to ask as the same viewer)."""
    url, room = served
    async with room_client(ws_url(url, room, "viewer", session=session)) as viewer:
        me = await viewer.session()
        await viewer.chat(text, name=name)
        answer = await viewer.expect("answer", timeout=30)
    assert isinstance(answer, Answer)
    return answer, me.session


@pytest.mark.parametrize(
    "name", ["今天全场1元秒杀", "加微信领红包", "www.cheap.cn", "全网最好的店", "Ѕаlе"]
)
async def test_a_name_that_sells_is_replaced_by_a_neutral_handle(served: Served, name: str) -> None:
    product = in_stock()
    answer, session = await ask(served, f"{product.title}多少钱？", name)
    assert name not in answer.text and "秒杀" not in answer.text and "1元" not in answer.text
    assert answer.text.startswith("@观众") and f"{product.price:g}" in answer.text
    again, _ = await ask(served, f"{product.title}有货吗？", name, session)
    assert again.text.split()[0] == answer.text.split()[0]  # the same viewer, the same handle


async def test_a_plain_name_is_kept(served: Served) -> None:
    answer, _ = await ask(served, f"{in_stock().title}多少钱？", "小王")
    assert answer.text.startswith("@小王")


@pytest.mark.parametrize(
    "name", ["ｈｏｓｔ", "主 播", "Official_Host", "客\u200b服", "BOT", "Ноѕt", "ΒΟΤ"]
)
async def test_staff_names_are_refused_however_they_are_written(served: Served, name: str) -> None:
    url, room = served
    async with room_client(ws_url(url, room, "viewer")) as viewer:
        await viewer.chat("这个多少钱", name=name)
        error = await viewer.expect("error")
    assert isinstance(error, Error) and error.code == "forbidden"


async def test_a_hidden_banned_word_in_the_question_is_gated_before_display(
    served: Served,
) -> None:
    product = in_stock()
    answer, _ = await ask(served, f"{product.title}是全网最\u200b好的吗，多少钱", "小李")
    assert answer.question is not None
    assert "\u200b" not in answer.question and "最好" not in answer.question
    assert f"{product.price:g}" in answer.text
