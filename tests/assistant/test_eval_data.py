"""The Q&A evaluation set measures what viewers meet: it must not hand the bot its context."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from assistant.catalog import Catalog
from tests.assistant.conftest import ROOT

EVAL = ROOT / "data" / "eval"


def items() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for split in ("tune", "heldout"):
        out += json.loads((EVAL / "qa" / f"{split}.json").read_text())["items"]
    return out


def catalog(name: str) -> Catalog:
    path = ROOT / "data/demo_catalog.json" if name == "demo" else EVAL / f"catalogs/{name}.json"
    return Catalog.model_validate_json(path.read_text())


def test_the_set_is_large_varied_and_mostly_without_a_stage_product() -> None:
    all_items = items()
    assert len(all_items) >= 300 and len({i["id"] for i in all_items}) == len(all_items)
    names = {i["catalog"] for i in all_items}
    assert len(names) >= 3
    fresh = [catalog(n) for n in names - {"demo"}]
    assert fresh and all(p.title_en is None for c in fresh for p in c.products)
    assert sum(i["stage_sku"] is not None for i in all_items) <= 0.3 * len(all_items)
    assert sum(i["outcome"] == "unknown" for i in all_items) >= 0.15 * len(all_items)
    kinds = {i["kind"] for i in all_items}
    assert {"followup", "compare", "howtobuy", "shipping", "returns", "yesno"} <= kinds


def test_every_item_refers_to_real_products_and_verbatim_facts() -> None:
    for item in items():
        products = {p.sku: p for p in catalog(item["catalog"]).products}
        shop = catalog(item["catalog"]).shop.model_dump_json()
        assert set(item["skus"]) <= products.keys(), item["id"]
        if item["stage_sku"] is not None:
            assert item["stage_sku"] in products, item["id"]
        sources = [products[s].model_dump_json() for s in item["skus"]] + [shop]
        for expected in item["expect"]:
            text = json.dumps(expected, ensure_ascii=False).strip('"')
            assert any(text in s for s in sources) or expected in ("售罄", "sold out"), item


def test_the_held_out_third_is_chosen_by_id_alone() -> None:
    for item in items():
        digest = int(hashlib.sha256(item["id"].encode()).hexdigest(), 16)
        assert item["split"] == ("heldout" if digest % 3 == 0 else "tune"), item["id"]
