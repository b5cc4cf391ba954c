"""Catalog files: CSV cell conventions, per-row errors, encodings, JSON shapes and sniffing."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from assistant.catalog import Catalog
from assistant.catalog_io import (
    CSV_COLUMNS,
    MAX_ROW_ERRORS,
    CatalogFileError,
    RowError,
    parse_catalog_file,
    sniff,
)
from tests.conftest import DEMO_CATALOG


def demo_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))["products"]
    return items


def csv_cells(item: dict[str, Any], json_attributes: bool = False) -> dict[str, str]:
    """One product as a spreadsheet row, following the documented cell conventions."""
    cells: dict[str, str] = {}
    for column in CSV_COLUMNS:
        value = item.get(column)
        if value is None:
            cells[column] = ""
        elif column in ("selling_points", "tags"):
            cells[column] = "|".join(value)
        elif column == "attributes":
            if json_attributes:
                cells[column] = json.dumps(value, ensure_ascii=False)
            else:
                cells[column] = "; ".join(f"{k}={v}" for k, v in value.items())
        elif column == "faq":
            cells[column] = json.dumps(value, ensure_ascii=False) if value else ""
        else:
            cells[column] = str(value)
    return cells


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def file_errors(body: bytes, fmt: str = "csv") -> list[RowError]:
    assert fmt in ("csv", "json")
    with pytest.raises(CatalogFileError) as raised:
        parse_catalog_file(body, "csv" if fmt == "csv" else "json")
    assert raised.value.code == "bad_catalog" and raised.value.status == 422
    assert raised.value.details == [e.model_dump() for e in raised.value.errors]
    return raised.value.errors


def test_csv_round_trips_the_demo_catalog() -> None:
    items = demo_items()
    # Both attribute conventions, alternating, in one file.
    rows = [csv_cells(item, json_attributes=i % 2 == 1) for i, item in enumerate(items)]
    parsed = parse_catalog_file(to_csv(rows).encode("utf-8"), "csv")
    assert parsed.products == Catalog.model_validate({"products": items}).products


def test_blank_cells_take_defaults() -> None:
    text = "sku,title,price,stock,category,tags,faq,list_price\nA-1,杯子,9.9,0,home,,,\n"
    (product,) = parse_catalog_file(text.encode(), "csv").products
    assert product.model_dump(include={"sku", "price", "stock", "tags", "faq", "list_price"}) == {
        "sku": "A-1",
        "price": 9.9,
        "stock": 0,
        "tags": [],
        "faq": [],
        "list_price": None,
    }
    assert product.attributes == {} and product.description == "" and product.image is None


def test_every_bad_csv_row_is_reported_and_only_those() -> None:
    items = demo_items()
    good = [csv_cells(item) for item in items[:6]]
    spare = iter(csv_cells(item) for item in items[10:])

    def bad(changes: dict[str, str]) -> dict[str, str]:
        return {**next(spare), **changes}

    # (cells, extra cells, the fields expected in error; None: a good row)
    layout: list[tuple[dict[str, str], list[str], set[str] | None]] = [
        (good[0], [], None),
        (bad({"price": "九块九"}), [], {"price"}),
        (good[1], [], None),
        (bad({"title": ""}), [], {"title"}),
        (bad({"stock": "-3"}), [], {"stock"}),
        (good[2], [], None),
        (bad({"sku": good[0]["sku"]}), [], {"sku"}),
        (bad({"attributes": "颜色 红色; 尺码=L"}), [], {"attributes"}),
        (good[3], [], None),
        (good[4], [], None),
        (bad({}), ["surplus"], {"-"}),
        (good[5], [], None),
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([[cells[c] for c in CSV_COLUMNS] + extra for cells, extra, _ in layout])
    expected = {n: fields for n, (_, _, fields) in enumerate(layout, start=1) if fields}

    errors = file_errors(out.getvalue().encode("utf-8"))

    assert {(e.row, e.field) for e in errors} == {
        (n, field) for n, fields in expected.items() for field in fields
    }
    assert [e.row for e in errors] == sorted(e.row for e in errors)
    for e in errors:
        cells, _, _ = layout[e.row - 1]
        assert e.sku == cells["sku"]
    dup = next(e for e in errors if e.field == "sku")
    first = 1 + next(i for i, (cells, _, _) in enumerate(layout) if cells is good[0])
    assert dup.msg == f"duplicate sku, first on row {first}"
    with pytest.raises(CatalogFileError) as raised:
        parse_catalog_file(out.getvalue().encode("utf-8"), "csv")
    assert raised.value.message.startswith(f"{len(expected)} row(s) have errors")


def test_row_errors_are_capped() -> None:
    bad = [{**csv_cells(demo_items()[0]), "sku": f"S{i}", "price": "x"} for i in range(250)]
    with pytest.raises(CatalogFileError) as raised:
        parse_catalog_file(to_csv(bad).encode(), "csv")
    assert len(raised.value.errors) == MAX_ROW_ERRORS
    assert raised.value.message.startswith(f"{len(bad)} row(s)")


@pytest.mark.parametrize(
    ("header", "names"),
    [
        ("sku,title,price,stock,category,colour", ["unknown column(s): colour"]),
        ("sku,title,stock,category", ["missing column(s): price"]),
        ("sku,name,stock,category", ["unknown column(s): name", "missing column(s): title, price"]),
        ("", ["missing column(s): sku, title, price, stock, category"]),
        ("sku,title,price,stock,category,price", ["repeated column(s): price"]),
    ],
)
def test_bad_header_is_a_file_error(header: str, names: list[str]) -> None:
    body = f"{header}\nA,b,1,2,c,d\n".encode() if header else b""
    (error,) = file_errors(body)
    assert (error.row, error.field) == (0, "file")
    for name in names:
        assert name in error.msg


def test_header_cells_are_trimmed() -> None:
    body = " sku , title ,price,stock,category\nA,杯子,10,1,home\n".encode()
    assert [p.sku for p in parse_catalog_file(body, "csv").products] == ["A"]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_csv_encodings(encoding: str) -> None:
    items = demo_items()[:5]
    body = to_csv([csv_cells(item) for item in items]).encode(encoding)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
    else:
        assert body.startswith(b"\xef\xbb\xbf")
    parsed = parse_catalog_file(body, "csv")
    assert parsed.products == Catalog.model_validate({"products": items}).products


def test_undecodable_bytes() -> None:
    (error,) = file_errors(b"sku,title\n\xff\xff\xff\n")
    assert (error.row, error.field) == (0, "file")


def test_json_object_and_bare_list() -> None:
    items = demo_items()
    expected = Catalog.model_validate({"products": items}).products
    as_object = json.dumps({"products": items}, ensure_ascii=False).encode()
    as_list = json.dumps(items, ensure_ascii=False).encode("utf-8-sig")
    assert parse_catalog_file(as_object, "json").products == expected
    assert parse_catalog_file(as_list, "json").products == expected


@pytest.mark.parametrize("body", [b"{not json", b'{"products": 5}', b'"products"', b"\xff"])
def test_malformed_json(body: bytes) -> None:
    (error,) = file_errors(body, "json")
    assert (error.row, error.field) == (0, "file")


def test_json_non_object_item() -> None:
    items: list[Any] = demo_items()[:3]
    items.insert(2, ["not", "a", "product"])
    (error,) = file_errors(json.dumps(items).encode(), "json")
    assert (error.row, error.field, error.msg) == (3, "-", "not an object")


def test_json_row_errors_name_nested_fields() -> None:
    items = demo_items()[:4]
    items[1] = {**items[1], "price": 0}
    items[3] = {**items[3], "faq": [{"q": "?", "a": ""}], "colour": "red"}
    errors = file_errors(json.dumps({"products": items}).encode(), "json")
    assert {(e.row, e.sku, e.field) for e in errors} == {
        (2, items[1]["sku"], "price"),
        (4, items[3]["sku"], "faq.0.a"),
        (4, items[3]["sku"], "colour"),
    }


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"sku,title\n", "application/json", "json"),
        (b'{"products": []}', "text/csv; charset=utf-8", "csv"),
        (b'  \r\n\t[{"sku": "A"}]', None, "json"),
        (b'\xef\xbb\xbf{"products": []}', "application/octet-stream", "json"),
        (b"sku,title,price\n", None, "csv"),
        (b"\xef\xbb\xbfsku,title\n", "text/plain", "csv"),
        (b"", None, "csv"),
    ],
)
def test_sniff(body: bytes, content_type: str | None, expected: str) -> None:
    assert sniff(body, content_type) == expected
