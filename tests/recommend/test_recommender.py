"""The recommender on the demo catalog: incremental sync, restart, filters, stage, history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.catalog import Catalog, Product
from recommend.activity import RoomActivity
from recommend.errors import RecommendBadInput, UnknownSku
from recommend.recommender import ProductRecommender
from recommend.settings import RecommendSettings
from tests.fakes.recommend_embedders import HashingEmbedder


def _rec(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> ProductRecommender:
    rec = ProductRecommender(embedder, settings)
    rec.sync(catalog)
    return rec


def test_sync_embeds_only_new_and_changed_products(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    rec = ProductRecommender(embedder, settings)
    first = rec.sync(catalog)
    assert len(first.added) == len(catalog.products)
    assert embedder.texts_embedded == len(catalog.products)
    changed = catalog.products[0].model_copy(update={"selling_points": ["全新卖点"]})
    repriced = catalog.products[1].model_copy(update={"price": 1.0})  # price is not embedded
    new = catalog.products[2].model_copy(update={"sku": "NEW-1"})
    products = [changed, repriced, new, *catalog.products[3:-1]]
    report = rec.sync(Catalog(products=products))
    assert report.updated == [changed.sku] and report.added == ["NEW-1"]
    assert set(report.removed) == {catalog.products[2].sku, catalog.products[-1].sku}
    assert embedder.texts_embedded == len(catalog.products) + 2
    assert catalog.products[-1].sku not in rec.indexes[0]
    assert rec.products[repriced.sku].price == 1.0


def test_persisted_index_survives_a_restart_without_re_embedding(
    settings: RecommendSettings, catalog: Catalog, tmp_path: Path
) -> None:
    first = HashingEmbedder()
    rec = _rec(first, settings, catalog)
    rec.save(tmp_path / "room")
    before = [i.sku for i in rec.recommend("推荐一款保温杯").items]

    second = HashingEmbedder()
    again = ProductRecommender(second, settings)
    assert again.load(tmp_path / "room")
    report = again.sync(catalog)
    assert second.texts_embedded == 0 and report.unchanged == len(catalog.products)
    assert [i.sku for i in again.recommend("推荐一款保温杯").items] == before
    other = ProductRecommender(HashingEmbedder(dim=128, name="other"), settings)
    assert not other.load(tmp_path / "room")


def test_out_of_stock_is_never_recommended(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    rec = _rec(embedder, settings, catalog)
    sold_out = [p for p in catalog.products if p.stock == 0]
    assert sold_out
    for product in sold_out:
        items = rec.recommend(f"推荐{product.title}", k=10).items
        assert items and product.sku not in {i.sku for i in items}


@pytest.mark.parametrize(
    ("query", "limit"), [("100元以内的推荐", 100.0), ("gift under $20", 144.0)]
)
def test_price_limits_hold_and_reasons_state_the_price(
    embedder: HashingEmbedder,
    settings: RecommendSettings,
    catalog: Catalog,
    query: str,
    limit: float,
) -> None:
    rec = _rec(embedder, settings, catalog)
    items = rec.recommend(query, k=5).items
    assert items
    for item in items:
        assert item.price <= limit
        assert f"{item.price:g}" in item.reason


def test_cheaper_than_the_stage_product(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    rec = _rec(embedder, settings, catalog)
    stage = catalog.get("HM-CUP-316-500")
    assert stage is not None
    result = rec.recommend("有没有便宜点的", stage_sku=stage.sku)
    assert result.intent.kind == "cheaper"
    assert all(i.price < stage.price and i.sku != stage.sku for i in result.items)
    top = result.items[0]
    top_product = catalog.get(top.sku)
    assert top_product is not None and top_product.category == stage.category
    assert f"{stage.price - top.price:g}" in top.reason


def test_viewer_history_moves_related_products_up(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    rec = _rec(embedder, settings, catalog)
    baby = {p.sku for p in catalog.products if p.category == "baby" and p.stock > 0}
    activity = RoomActivity()
    cold = [i.sku for i in rec.recommend("推荐一下", user_id="u1", activity=activity, k=5).items]
    activity.record("u1", "BB-DIAPER-L-54", "click")
    activity.record("u1", "BB-DIAPER-L-54", "cart")
    warm = rec.recommend("推荐一下", user_id="u1", activity=activity, k=5).items
    assert len(baby & {i.sku for i in warm}) > len(baby & set(cold))
    assert any("纸尿裤" in i.reason for i in warm)


def test_co_engagement_across_viewers(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    rec = _rec(embedder, settings, catalog)
    activity = RoomActivity()
    activity.record("me", "SP-YOGA-TPE-6", "click")
    baseline = {
        i.sku for i in rec.recommend("推荐一下", user_id="me", activity=activity, k=3).items
    }
    target = next(p.sku for p in reversed(catalog.products) if p.stock and p.sku not in baseline)
    for user in ("a", "b", "c"):
        activity.record(user, "SP-YOGA-TPE-6", "click")
        activity.record(user, target, "purchase")
    items = rec.recommend("推荐一下", user_id="me", activity=activity, k=3).items
    assert target in {i.sku for i in items}
    assert any("观众也" in i.reason for i in items if i.sku == target)


def test_purchased_products_are_not_offered_again(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    rec = _rec(embedder, settings, catalog)
    activity = RoomActivity()
    activity.record("u", "HM-CUP-304-350", "purchase")
    items = rec.recommend("推荐保温杯", user_id="u", activity=activity, k=10).items
    assert "HM-CUP-304-350" not in {i.sku for i in items}


def test_bad_input_gives_clear_results(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    empty = _rec(embedder, settings, Catalog())
    result = empty.recommend("推荐一下")
    assert result.items == [] and "empty" in result.note
    rec = _rec(embedder, settings, catalog)
    with pytest.raises(RecommendBadInput):
        rec.recommend("0元以内的推荐")
    nothing = rec.recommend("推荐1元以内的")
    assert nothing.items == [] and "price" in nothing.note
    with pytest.raises(UnknownSku):
        rec.similar("NOPE")
    assert rec.recommend("有没有便宜点的", stage_sku="NOPE").items  # unknown stage: ignored
    blank = Product(sku="BLANK", title=" ", price=1, stock=1, category=" ")
    report = rec.sync(Catalog(products=[*catalog.products, blank]))
    assert report.without_text == ["BLANK"] and "BLANK" not in rec.indexes[0]


def test_image_vectors_find_the_product(
    embedder: HashingEmbedder, settings: RecommendSettings, catalog: Catalog
) -> None:
    rec = _rec(embedder, settings, catalog)
    with pytest.raises(RecommendBadInput):
        rec.find_by_image(np.ones(8, np.float32))
    rng = np.random.default_rng(3)
    vecs = {p.sku: rng.standard_normal(64).astype(np.float32) for p in catalog.products[:10]}
    rec.set_image_vectors(vecs)
    sku = catalog.products[7].sku
    crop = vecs[sku] + 0.1 * rng.standard_normal(64).astype(np.float32)
    assert rec.find_by_image(crop, k=1)[0][0].sku == sku
    with pytest.raises(UnknownSku):
        rec.set_image_vectors({"NOPE": vecs[sku]})
