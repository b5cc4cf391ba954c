"""Catalog files as hosts export them (JSON or CSV), checked row by row before anything applies."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from assistant.catalog import Catalog, Product, ShopInfo
from assistant.errors import BadInput

FileFormat = Literal["json", "csv"]
CSV_COLUMNS = tuple(Product.model_fields)
# Cells holding a list are split on "|"; attributes are "key=value; key=value" or a JSON object.
LIST_SEPARATOR = "|"
MAX_ROW_ERRORS = 200


class RowError(BaseModel):
    """One problem in an uploaded catalog: ``row`` counts data rows from 1 (0: the whole file)."""

    row: int
    sku: str | None = None
    field: str
    msg: str


class CatalogFileError(BadInput):
    code = "bad_catalog"
    status = 422

    def __init__(self, errors: list[RowError]) -> None:
        rows = len({e.row for e in errors})
        shown = errors[:MAX_ROW_ERRORS]
        super().__init__(
            f"{rows} row(s) have errors; the catalog was not changed",
            details=[e.model_dump() for e in shown],
        )
        self.errors = shown


def sniff(body: bytes, content_type: str | None) -> FileFormat:
    """Tell JSON from CSV by the declared type, else by the first non-blank character."""
    if content_type and "json" in content_type:
        return "json"
    if content_type and "csv" in content_type:
        return "csv"
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"{", b"[") else "csv"


def parse_catalog_file(body: bytes, fmt: FileFormat) -> Catalog:
    """Parse and validate a whole catalog; raises CatalogFileError listing every bad row.

    The shop facts come only with a JSON ``{"products", "shop"}``; without them the returned
    catalog leaves ``shop`` unset (not in ``model_fields_set``), so the caller keeps the room's.
    """
    # Cells that cannot be read are reported together with the rows that fail validation.
    shop: ShopInfo | None = None
    errors: list[RowError] = []
    if fmt == "json":
        doc = _json_doc(body)
        rows = _json_rows(doc)
        shop = _shop(doc)
    else:
        rows, errors = _csv_rows(_decode(body))
    products: list[Product] = []
    seen: dict[str, int] = {}
    for number, raw in rows:
        sku = raw.get("sku") if isinstance(raw.get("sku"), str) else None
        try:
            product = Product.model_validate(raw)
        except ValidationError as exc:
            errors.extend(
                RowError(row=number, sku=sku, field=_loc(e["loc"]), msg=e["msg"])
                for e in exc.errors()
            )
            continue
        if product.sku in seen:
            msg = f"duplicate sku, first on row {seen[product.sku]}"
            errors.append(RowError(row=number, sku=product.sku, field="sku", msg=msg))
            continue
        seen[product.sku] = number
        products.append(product)
    if errors:
        raise CatalogFileError(sorted(errors, key=lambda e: e.row))
    try:
        return Catalog(products=products) if shop is None else Catalog(products=products, shop=shop)
    except ValidationError as exc:
        raise CatalogFileError([RowError(row=0, field="products", msg=str(exc))]) from exc


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(map(str, loc)) or "-"


def _decode(body: bytes) -> str:
    # Chinese spreadsheet tools often save CSV as GB18030 rather than UTF-8.
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise CatalogFileError([_file_error("not UTF-8 or GB18030 text")]) from exc


def _file_error(msg: str) -> RowError:
    return RowError(row=0, field="file", msg=msg)


def _json_doc(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CatalogFileError([_file_error(f"not valid JSON: {exc}")]) from exc


def _shop(doc: Any) -> ShopInfo | None:
    if not isinstance(doc, dict) or "shop" not in doc:
        return None
    try:
        return ShopInfo.model_validate(doc["shop"])
    except ValidationError as exc:
        raise CatalogFileError(
            [RowError(row=0, field="shop." + _loc(e["loc"]), msg=e["msg"]) for e in exc.errors()]
        ) from exc


def _json_rows(doc: Any) -> list[tuple[int, dict[str, Any]]]:
    items = doc.get("products") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise CatalogFileError([_file_error('expected {"products": [...]} or a list')])
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise CatalogFileError([RowError(row=number, field="-", msg="not an object")])
        rows.append((number, item))
    return rows


def _csv_rows(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """The rows whose cells could be read, and an error for each row whose cells could not."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _csv_records(reader)
    except csv.Error as exc:  # a cell over csv's field limit, a NUL byte, a stray quote
        raise CatalogFileError(
            # line_num counts the lines read whole: the header, then the rows before this one.
            [RowError(row=reader.line_num, field="-", msg=f"unreadable CSV: {exc}")]
        ) from exc


def _csv_records(
    reader: csv.DictReader[str],
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    header = [h.strip() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in ("sku", "title", "price", "stock", "category") if c not in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if unknown or missing or repeated:
        parts = [f"unknown column(s): {', '.join(unknown)}"] if unknown else []
        parts += [f"missing column(s): {', '.join(missing)}"] if missing else []
        parts += [f"repeated column(s): {', '.join(repeated)}"] if repeated else []
        raise CatalogFileError([_file_error("; ".join(parts))])
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    for number, record in enumerate(reader, start=1):
        if None in record:
            sku = record.get("sku")
            errors.append(RowError(row=number, sku=sku, field="-", msg="more cells than columns"))
            continue
        try:
            rows.append((number, _csv_product(record)))
        except ValueError as exc:
            sku = record.get("sku")
            errors.append(RowError(row=number, sku=sku, field=str(exc), msg=_why(exc)))
    return rows, errors


def _why(exc: ValueError) -> str:
    cause = exc.__cause__
    return str(cause) if cause is not None else "could not be read"


def _csv_product(record: dict[str, str | None]) -> dict[str, Any]:
    """Turn CSV cells into product fields; blank cells take the field's default."""
    product: dict[str, Any] = {}
    for column, cell in record.items():
        value = (cell or "").strip()
        if not value:
            continue
        if column in ("selling_points", "tags"):
            product[column] = [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()]
        elif column == "attributes":
            product[column] = _cell(column, value, _attributes)
        elif column == "faq":
            product[column] = _cell(column, value, json.loads)
        else:
            product[column] = value
    return product


def _cell(column: str, value: str, parse: Any) -> Any:
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(column) from exc


def _attributes(value: str) -> dict[str, str]:
    if value.startswith("{"):
        parsed = json.loads(value)
        if not isinstance(parsed, dict):
            raise ValueError("expected a JSON object")
        return parsed
    pairs: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value, got {part.strip()!r}")
        pairs[key.strip()] = val.strip()
    return pairs
