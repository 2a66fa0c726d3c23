"""Exports: the catalog (with the filters and sort of GET /products) and one job's candidates, as CSV or
XLSX, written to the media bucket under exports/ and handed out as a short-lived presigned link.

Why a link and not the file in the response: a Lambda response carries at most 6 MB, and a binary body
through API Gateway needs binary media types configured; a presigned GET has neither limit, and
`curl -L` follows the route's 303 to it. The bucket's lifecycle rule (template.yaml) deletes exports/
after a day; the link expires long before.

Cells are the API's values (money as decimal strings, times RFC 3339, angebae.formats), one column per
field, a header row. Formula injection: a text cell starting with = + - @ (or a tab or carriage return)
is what a spreadsheet may run as a formula. In CSV it gets a leading apostrophe; in XLSX every text is
written as a string cell (never a formula) and those cells also carry Excel's hidden quote prefix, so
the value stays exact. Prices and quantities are number cells in XLSX (a spreadsheet sums them), shown
with the decimals they have (numeric(14, 4) fits a double's 15 digits exactly).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from angebae.catalog import products
from angebae.db import Database
from angebae.errors import AppError, NotFound, StorageUnavailable
from angebae.models import ProductFilters
from angebae.storage import Storage

PREFIX = "exports/"
URL_TTL_SECONDS = 15 * 60
# What one export holds: 20,000 products take 1.7 s as CSV, 4.8 s as XLSX on this machine's one core
# (README); a 512 MB Lambda has about a third of a core, and API Gateway waits 29 s.
MAX_ROWS = 25_000
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DECIMAL_COLUMNS = frozenset({"price", "qty"})  # decimal strings in the API, numbers in a spreadsheet

PRODUCT_COLUMNS = (
    "id",
    "name",
    "slug",
    "sku",
    "description",
    "price",
    "currency",
    "stock",
    "status",
    "category_id",
    "attributes",
    "images",
    "source_candidate_id",
    "version",
    "created_by",
    "created_at",
    "updated_at",
)
CANDIDATE_COLUMNS = (
    "id",
    "job_id",
    "media_id",
    "page_number",
    "position",
    "name",
    "price",
    "currency",
    "sku",
    "qty",
    "confidence",
    "status",
    "product_id",
    "bbox",
    "raw",
    "attributes",
    "superseded_by",
    "duplicate_of",
    "decision_reason",
    "decided_by",
    "decided_at",
    "created_at",
    "updated_at",
)


class ExportTooLarge(AppError):
    status, code = 400, "export_too_large"
    message = f"An export holds at most {MAX_ROWS:,} rows: narrow the filters (status, category, q...)."


# --- cells -------------------------------------------------------------------------------------------


def cell(value) -> str | int | float:
    """A JSON value of the API as one cell: text, or a number for counts and confidences; lists and
    objects as compact JSON; null as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def risky(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_safe(value) -> str | int | float:
    return "'" + value if risky(value) else value


def write_csv(columns: tuple[str, ...], rows: Iterable[list]) -> tuple[bytes, int]:
    """UTF-8 with a byte order mark (Excel then reads the accents right), CRLF rows, every field quoted
    where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
        count += 1
    return buffer.getvalue().encode("utf-8-sig"), count


def write_xlsx(columns: tuple[str, ...], rows: Iterable[list], sheet: str) -> tuple[bytes, int]:
    """One sheet, the header row bold and frozen; rows streamed (constant memory) to a temporary file."""
    import xlsxwriter

    with tempfile.NamedTemporaryFile(suffix=".xlsx") as tmp:
        workbook = xlsxwriter.Workbook(
            tmp.name,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        worksheet = workbook.add_worksheet(sheet)
        bold, quoted = workbook.add_format({"bold": True}), workbook.add_format({"quote_prefix": True})
        decimal = workbook.add_format({"num_format": "0.00##"})
        decimals = {n for n, name in enumerate(columns) if name in DECIMAL_COLUMNS}
        worksheet.write_row(0, 0, columns, bold)
        worksheet.freeze_panes(1, 0)
        count = 0
        for count, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if col in decimals and (number := _decimal(value)) is not None:
                    worksheet.write_number(count, col, float(number), decimal)
                elif isinstance(value, str):
                    worksheet.write_string(count, col, value, quoted if risky(value) else None)
                else:
                    worksheet.write_number(count, col, value)
        workbook.close()
        with open(tmp.name, "rb") as f:
            return f.read(), count


def _decimal(value) -> Decimal | None:
    try:
        number = Decimal(value) if isinstance(value, str) and value else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def render(fmt: str, columns: tuple[str, ...], rows: Iterable[list], sheet: str) -> tuple[bytes, int]:
    return write_csv(columns, rows) if fmt == "csv" else write_xlsx(columns, rows, sheet)


def as_rows(items: Iterable[dict], columns: tuple[str, ...]) -> Iterator[list]:
    for item in items:
        yield [cell(item.get(c)) for c in columns]


# --- publishing --------------------------------------------------------------------------------------


def publish(storage: Storage, body: bytes, fmt: str, filename: str, rows: int) -> dict:
    """The file under exports/<uuid>.<ext> and its presigned link (downloaded as `filename`)."""
    if storage.bucket is None:  # the routes check MEDIA_BUCKET before any row is read
        raise StorageUnavailable("Exports need the media bucket (MEDIA_BUCKET is not set).")
    key = f"{PREFIX}{uuid.uuid4()}.{fmt}"
    storage.put(key, body, CONTENT_TYPES[fmt])
    url = storage.presigned_get(storage.bucket, key, URL_TTL_SECONDS, filename)
    expires_at = datetime.now(UTC) + timedelta(seconds=URL_TTL_SECONDS)
    return {"url": url, "format": fmt, "rows": rows, "filename": filename, "expires_at": expires_at}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


# --- the catalog -------------------------------------------------------------------------------------


def product_rows(db: Database, query: ProductFilters) -> list[dict]:
    """Every product the list would page through with these filters, in its order (at most MAX_ROWS)."""
    with db.transaction() as conn:
        statement, params = products.build_list_query(
            query, products.typo_query(conn, query.q), limit=MAX_ROWS
        )
        rows = conn.execute(statement, params).fetchall()
    if len(rows) > MAX_ROWS:
        raise ExportTooLarge(details={"max_rows": MAX_ROWS})
    return [products.public({k: v for k, v in r.items() if k != "sort_key"}) for r in rows]


def export_products(db: Database, storage: Storage, query: ProductFilters, fmt: str) -> dict:
    items = product_rows(db, query)
    body, count = render(fmt, PRODUCT_COLUMNS, as_rows(items, PRODUCT_COLUMNS), "products")
    return publish(storage, body, fmt, f"catalog-{_stamp()}.{fmt}", count)


# --- one job's candidates ----------------------------------------------------------------------------


def candidate_rows(db: Database, job_id: uuid.UUID) -> list[dict]:
    from angebae.review import candidates

    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM ocr_jobs WHERE id = %s", (job_id,)).fetchone() is None:
            raise NotFound("The OCR job does not exist.")
        rows = conn.execute(
            f"""SELECT {candidates.COLUMNS} FROM product_candidates WHERE job_id = %s
                                ORDER BY page_number, position, id LIMIT %s""",
            (job_id, MAX_ROWS + 1),
        ).fetchall()
    if len(rows) > MAX_ROWS:
        raise ExportTooLarge(details={"max_rows": MAX_ROWS})
    return [candidates.candidate_out(r) for r in rows]  # as the API writes them: qty "20", not "20.00"


def export_candidates(db: Database, storage: Storage, job_id: uuid.UUID, fmt: str) -> dict:
    items = candidate_rows(db, job_id)
    body, count = render(fmt, CANDIDATE_COLUMNS, as_rows(items, CANDIDATE_COLUMNS), "candidates")
    return publish(storage, body, fmt, f"candidates-{str(job_id)[:8]}-{_stamp()}.{fmt}", count)
