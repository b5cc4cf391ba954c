"""The checks a script sentence passes before speech, and the measures of bench/scripts.py."""

from __future__ import annotations

import pytest

from assistant.brain.scripts import quality
from assistant.brain.scripts.checks import backed_prices, backing_text, unbacked_entities
from assistant.catalog import Catalog, FaqItem
from assistant.compliance import ComplianceGate
from assistant.repeats import Repeats
from assistant.text import sentences

CARD = "西湖龙井 明前特级绿茶 West Lake Longjing 产地 浙江杭州 豆花香明显 双罐密封礼盒"


def test_sentences_split_where_a_voice_pauses() -> None:
    text = "原价328元，只要39.9元！Take a look. It is ¥39.9 today.好的"
    assert sentences(text) == [
        "原价328元，只要39.9元！",
        "Take a look.",
        "It is ¥39.9 today.",
        "好的",
    ]


def test_a_sentence_said_again_is_caught_whole_or_by_clause() -> None:
    said = Repeats(["非常适合办公室下午茶和学生课间零食，口感清爽。"])
    assert said.is_repeat("非常适合办公室下午茶和学生课间零食，口感清爽！")
    longer = "这款茶冲泡起来特别方便快捷，非常适合办公室下午茶和学生课间零食。"
    assert said.fresh(longer) == "这款茶冲泡起来特别方便快捷。"
    assert said.fresh("双罐礼盒送长辈很体面。") == "双罐礼盒送长辈很体面。"
    assert said.fresh("非常适合办公室下午茶和学生课间零食。") == ""


@pytest.mark.parametrize(
    ("sentence", "invented"),
    [
        ("我叫小明，今天给大家推荐这款茶。", "小明"),
        ("我是福州茉莉花茶主播。", "主播"),
        ("这款茶来自云南普洱，口感醇厚。", "云南"),
        ("这款是华为出品的茶叶。", "华为"),
        ("这款茶通过了ISO认证。", "认证"),
        ("李佳琦都推荐过这款茶。", "李佳琦"),
        ("This tea won an award in Paris.", "Paris"),
        ("My name is Lily and I love this tea.", "Lily"),
    ],
)
def test_names_places_brands_and_claims_off_the_card_are_caught(
    sentence: str, invented: str
) -> None:
    found = unbacked_entities(sentence, CARD)
    assert any(invented in f for f in found), found


@pytest.mark.parametrize(
    "sentence",
    [
        "这款龙井产自浙江杭州，豆花香明显。",
        "宝宝们今天的福利来了，续航也很久。",
        "It comes from Hangzhou, in Zhejiang.",
        "Everyone, take a look at the West Lake Longjing.",
        "喜欢的家人点左下角小黄车，找1号链接下单。",
    ],
)
def test_what_the_card_backs_passes(sentence: str) -> None:
    assert unbacked_entities(sentence, CARD) == []


def test_backing_covers_the_card_faq_and_shop(catalog: Catalog) -> None:
    product = catalog.products[0]
    text = backing_text(product, catalog.shop)
    assert product.faq[0].a in text and catalog.shop.how_to_buy in text


def test_repeated_within_counts_sentences_said_again() -> None:
    assert quality.repeated_within("双罐礼盒很体面。豆花香明显。双罐礼盒很体面！") == pytest.approx(
        1 / 3
    )
    assert quality.repeated_within("双罐礼盒很体面。豆花香明显。") == 0


def test_repeated_across_compares_with_the_previous_scripts_only() -> None:
    a, b = "双罐礼盒很体面。豆花香明显。", "豆花香明显。入口鲜爽回甘。"
    assert quality.repeated_across([a, b]) == pytest.approx(1 / 2)
    assert quality.repeated_across([a, "入口鲜爽回甘。"]) == 0
    far = ["豆花香明显。"] + [f"第{i}句新的话呀。" for i in range(5)]
    assert quality.repeated_across(far, window=5) == 0  # beyond the window it may come back


def test_distinct_2_falls_as_a_script_repeats_itself() -> None:
    varied = quality.distinct_2("明前头采嫩芽，扁平挺直。豆花香明显，入口鲜爽。")
    loop = quality.distinct_2("好喝好喝好喝好喝好喝好喝。")
    assert varied == 1.0 and loop < 0.5
    assert quality.distinct_2("a fresh cup, a fresh day") < 1.0


def test_coverage_is_the_share_of_points_said() -> None:
    points = ["明前头采嫩芽", "豆花香明显", "双罐密封礼盒"]
    texts = ["这款是明前头采的嫩芽。", "喝起来豆花香很明显。"]
    assert quality.coverage(points, texts) == pytest.approx(2 / 3)
    assert quality.coverage([], texts) == 1.0
    assert quality.coverage(["500ml", "320g"], ["容量是500ml。"]) == 0.5


def test_unbacked_numbers_and_names_are_counted() -> None:
    prices = {"268", "328", "60"}
    ok = "原价328元，今天268元，立省60元。"
    assert quality.unbacked_numbers(ok, CARD + " 268 328 60", prices, set()) == 0
    assert quality.unbacked_numbers("今天只要9.9元，送3罐。", CARD, prices, set()) == 2
    assert quality.unbacked_names("我叫小明。这款茶产自浙江杭州。", CARD) >= 1
    assert quality.unbacked_names("这款茶产自浙江杭州。", CARD) == 0


def test_money_the_card_states_is_backed(catalog: Catalog) -> None:
    product = catalog.products[0]
    faq = [*product.faq, FaqItem(q="壶身坏了能换吗", a="可以单独买替换壶身，价格39元。")]
    card = product.model_copy(update={"faq": faq})
    said = "壶身坏了可以单独买，价格39元。"
    assert "39" in backed_prices(card, catalog.shop) - backed_prices(product, catalog.shop)
    source = backing_text(card, catalog.shop)
    assert quality.unbacked_numbers(said, source, backed_prices(card, catalog.shop), set()) == 0
    assert (
        quality.unbacked_numbers("只要49元。", source, backed_prices(card, catalog.shop), set())
        == 1
    )


def test_compliance_terms_left_in_speech(gate: ComplianceGate) -> None:
    assert quality.compliance_terms("这是全网最好的茶。", gate, "food") >= 1
    assert quality.compliance_terms(gate.rewrite("这是全网最好的茶。").text, gate, "food") == 0


def test_length_error_is_relative_to_the_requested_seconds() -> None:
    text = "字" * 300
    assert quality.length_error(text, 60, 5.0) == 0
    assert quality.length_error(text, 50, 5.0) == pytest.approx(0.2)
    assert quality.spoken_seconds(text, 4.0) == 75
