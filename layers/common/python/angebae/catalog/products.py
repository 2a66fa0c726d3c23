"""Products: create/read/update/archive/delete with optimistic versions, unique slugs and SKUs, a keyset
list with filters and sorting, and ranked search.

Search is full text over a stored tsvector (Spanish + English stems of the accent-folded name, SKU and
description; see migrations/0002) OR'ed with a prefix match of every word typed, and with typos: a word
of 5+ letters also matches the product-name words one edit away (a vocabulary kept by a trigger, no
extension needed: migrations/0014). Exact matches rank above matches through a typo.
"""

from __future__ import annotations

import contextlib
import math
import re
import secrets
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from angebae import audit, concurrency, pagination
from angebae.db import Connection, Database, one, update_columns
from angebae.errors import BadRequest, Conflict, NotFound, ValidationFailed
from angebae.formats import money, rfc3339
from angebae.models import ProductCreate, ProductFilters, ProductQuery, ProductUpdate
from angebae.pagination import timestamp

# SKUs are unique whatever their case (migrations/0015): the unique index on lower(sku).
SKU_CONSTRAINT = "products_sku_lower_key"

FIELDS = """p.id, p.name, p.slug, p.sku, p.description, p.price, p.currency, p.stock, p.status,
    p.category_id, p.attributes, p.source_candidate_id, p.version, p.created_by, p.created_at, p.updated_at"""
IMAGES = """ARRAY(SELECT m.media_id FROM product_media m WHERE m.product_id = p.id
                   ORDER BY m.position, m.media_id) AS images"""
COLUMNS = sql.SQL(f"{FIELDS}, {IMAGES}")


class ProductNotFound(NotFound):
    code, message = "product_not_found", "The product does not exist."


class DuplicateSku(Conflict):
    code = "duplicate_sku"


class ProductInUse(Conflict):
    code, message = "product_in_use", "Other records refer to this product; archive it instead."


# --- shaping -----------------------------------------------------------------------------------------


def public(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = rfc3339(value)
        elif isinstance(value, Decimal):
            value = money(value)
        elif isinstance(value, list):
            value = [str(v) if isinstance(v, uuid.UUID) else v for v in value]
        out[key] = value
    if "currency" in out and out["currency"] is not None:
        out["currency"] = out["currency"].strip()
    return out


def etag(product: dict) -> str:
    return concurrency.etag(product["version"])


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """The fields that changed, as (old values, new values), for the audit trail."""
    old, new = public(before), public(after)
    keys = [k for k in new if old.get(k) != new[k] and k != "updated_at"]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


# --- slugs -------------------------------------------------------------------------------------------


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:80].strip("-")
    return slug or "item"


def free_slug(conn: Connection, table: str, name: str) -> str:
    """The name's slug, or the first of slug-2 .. slug-50 not taken, else slug-<random>."""
    base = slugify(name)
    wanted = [base] + [f"{base}-{n}" for n in range(2, 51)]
    taken = {
        r["slug"]
        for r in conn.execute(
            sql.SQL("SELECT slug FROM {} WHERE slug = ANY(%s)").format(sql.Identifier(table)), (wanted,)
        )
    }
    return next((s for s in wanted if s not in taken), f"{base}-{secrets.token_hex(4)}")


def insert_with_slug(conn: Connection, table: str, name: str, values: dict) -> uuid.UUID:
    """INSERT a row with a free slug; a slug taken concurrently is retried with the next free one."""
    for _ in range(5):
        row_values = {**values, "slug": free_slug(conn, table, name)}
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (slug) DO NOTHING RETURNING id").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, row_values)),
            sql.SQL(", ").join(sql.Placeholder() * len(row_values)),
        )
        row = conn.execute(query, list(row_values.values())).fetchone()
        if row:
            return row["id"]
    raise Conflict("No free slug could be found for this name.")


# --- reads -------------------------------------------------------------------------------------------


def fetch(conn: Connection, product_id: uuid.UUID, *, lock: bool = False) -> dict:
    query = sql.SQL("SELECT {} FROM products p WHERE p.id = %s{}").format(
        COLUMNS, sql.SQL(" FOR UPDATE") if lock else sql.SQL("")
    )
    row = conn.execute(query, (product_id,)).fetchone()
    if row is None:
        raise ProductNotFound()
    return row


def get_product(db: Database, product_id: uuid.UUID) -> dict:
    with db.transaction() as conn:
        return public(fetch(conn, product_id))


# --- writes ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def sku_owner_named(db: Database, sku: str | None) -> Iterator[None]:
    """Turn the generic unique-violation Conflict on the SKU into one naming the product that has it."""
    try:
        yield
    except Conflict as exc:
        if not sku or (exc.details or {}).get("constraint") != SKU_CONSTRAINT:
            raise
        with db.transaction() as conn:
            other = conn.execute(
                "SELECT id, name, sku FROM products WHERE lower(sku) = lower(%s)", (sku,)
            ).fetchone()
        if other is None:
            raise
        same = repr(sku) if other["sku"] == sku else f"{sku!r} (as {other['sku']!r}: case does not count)"
        raise DuplicateSku(
            f"The SKU {same} already belongs to the product {other['name']!r}.",
            details={"sku": sku, "product_id": str(other["id"]), "product_name": other["name"]},
        ) from exc


def _check_references(conn: Connection, category_id: uuid.UUID | None, images: list | None) -> None:
    if (
        category_id is not None
        and not conn.execute("SELECT 1 FROM categories WHERE id = %s", (category_id,)).fetchone()
    ):
        raise ValidationFailed("The category does not exist.", details={"category_id": str(category_id)})
    if images:
        found = {r["id"] for r in conn.execute("SELECT id FROM media WHERE id = ANY(%s)", (images,))}
        missing = [str(m) for m in images if m not in found]
        if missing:
            raise ValidationFailed("Some images name no uploaded media.", details={"missing": missing})


def _set_images(conn: Connection, product_id: uuid.UUID, images: list[uuid.UUID]) -> None:
    conn.execute("DELETE FROM product_media WHERE product_id = %s", (product_id,))
    unique = list(dict.fromkeys(images))
    if unique:
        conn.execute(
            """INSERT INTO product_media (product_id, media_id, position)
               SELECT %s, media_id, position - 1
               FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(media_id, position)""",
            (product_id, unique),
        )


def insert_product(
    conn: Connection, fields: dict, actor: dict, *, images: Sequence[uuid.UUID] = (), action: str = "create"
) -> dict:
    """Insert within the caller's transaction, audited there too."""
    _check_references(conn, fields.get("category_id"), list(images))
    if fields.get("price") is not None and not fields.get("currency"):
        raise ValidationFailed("A price needs a currency.")
    values = {**fields, "created_by": actor["id"]}
    if "attributes" in values:
        values["attributes"] = Jsonb(values["attributes"])
    product_id = insert_with_slug(conn, "products", fields["name"], values)
    _set_images(conn, product_id, list(images))
    product = fetch(conn, product_id)
    audit.record(
        conn, action=action, entity="product", entity_id=product_id, actor=actor, after=public(product)
    )
    return product


def create_product(db: Database, data: ProductCreate, actor: dict) -> dict:
    fields = data.model_dump(exclude={"images"})
    with sku_owner_named(db, data.sku), db.transaction() as conn:
        return public(insert_product(conn, fields, actor, images=data.images))


def apply_changes(
    conn: Connection, before: dict, changes: dict, actor: dict, *, action: str = "update"
) -> dict:
    """Update a locked product within the caller's transaction: version + 1, old and new values audited."""
    changes = dict(changes)
    images = changes.pop("images", None)
    _check_references(conn, changes.get("category_id"), images)
    price = changes.get("price", before["price"])
    if price is not None and changes.get("currency", before["currency"]) is None:
        raise ValidationFailed("A price needs a currency.")
    if "attributes" in changes:
        changes["attributes"] = Jsonb(changes["attributes"])
    update_columns(conn, "products", before["id"], changes, bump_version=True)
    if images is not None:
        _set_images(conn, before["id"], images)
    after = fetch(conn, before["id"])
    old, new = diff(before, after)
    audit.record(
        conn, action=action, entity="product", entity_id=before["id"], actor=actor, before=old, after=new
    )
    return after


def update_product(
    db: Database, product_id: uuid.UUID, data: ProductUpdate, actor: dict, if_match: str | None = None
) -> dict:
    expected = concurrency.expected(if_match, data.version)
    changes = data.changes()
    with sku_owner_named(db, changes.get("sku")), db.transaction() as conn:
        before = fetch(conn, product_id, lock=True)
        expected.check(before["version"])
        if not changes:
            return public(before)
        return public(apply_changes(conn, before, changes, actor))


def archive_product(db: Database, product_id: uuid.UUID, actor: dict) -> dict:
    with db.transaction() as conn:
        before = fetch(conn, product_id, lock=True)
        if before["status"] == "archived":
            return public(before)
        return public(apply_changes(conn, before, {"status": "archived"}, actor, action="archive"))


def delete_product(db: Database, product_id: uuid.UUID, actor: dict) -> None:
    """Hard delete, refused (409) while candidates refer to the product; other tables' foreign keys
    refuse it through the database (also 409)."""
    with db.transaction() as conn:
        before = fetch(conn, product_id, lock=True)
        refs = one(
            conn.execute("SELECT count(*) AS n FROM product_candidates WHERE product_id = %s", (product_id,))
        )["n"]
        if refs:
            raise ProductInUse(details={"candidates": refs})
        conn.execute("DELETE FROM products WHERE id = %s", (product_id,))
        audit.record(
            conn, action="delete", entity="product", entity_id=product_id, actor=actor, before=public(before)
        )


# --- image links -------------------------------------------------------------------------------------


def with_image_links(db: Database, storage, items: list[dict]) -> list[dict]:
    """Each product (as JSON) with `image_links`: for each of its images, the media id, its type and
    presigned links to the file and (photos) its thumbnail, null until the file was checked. One
    query for a whole page; links are signed locally (no call to S3). Without storage, unchanged."""
    if storage is None:
        return items
    from angebae.catalog import media

    ids = sorted({m for item in items for m in item.get("images") or ()})
    rows = {}
    if ids:
        with db.transaction() as conn:
            rows = {
                str(r["id"]): r
                for r in conn.execute(
                    """SELECT id, bucket, object_key, version_id, status, thumbnail_key, sniffed_type,
                          declared_type FROM media WHERE id = ANY(%s::uuid[])""",
                    (ids,),
                )
            }
    for item in items:
        item["image_links"] = [
            {
                "media_id": m,
                "content_type": rows[m]["sniffed_type"] or rows[m]["declared_type"],
                "url": media.download_url(storage, rows[m]),
                "thumbnail_url": media.thumbnail_url(storage, rows[m]),
            }
            for m in item.get("images") or ()
            if m in rows
        ]
    return items


# --- list and search ---------------------------------------------------------------------------------


def _cursor_price(value) -> Decimal:
    """A price sort key back from a cursor: within numeric(14, 4) (or -1), else ValueError."""
    price = Decimal(value)
    if not price.is_finite() or abs(price) >= 10**10:
        raise ValueError("not a price")
    return price


def _cursor_rank(value) -> float:
    rank = float(value)
    if not math.isfinite(rank) or abs(rank) > 3.4e38:  # what a `real` holds
        raise ValueError("not a rank")
    return rank


# Sort key expression and the type a cursor value is cast back to. A price sort leaves out the products
# without a price (none to compare, even when they name a currency); the expression is the one the price
# indexes hold (migrations/0002, 0014), where an unpriced product would have been -1. Names
# sort by name_sort_key (migrations/0014: case and accents folded, ñ between n and o, compared bytewise).
SORTS = {
    "name": ("p.name_sort_key", 'text COLLATE "C"', pagination.text),
    "price": ("coalesce(p.price, -1)", "numeric", _cursor_price),
    "created_at": ("p.created_at", "timestamptz", timestamp),
    "updated_at": ("p.updated_at", "timestamptz", timestamp),
    "relevance": ("{rank}", "real", _cursor_rank),
}
# What was typed: full text (Spanish and English stems) or every word as a prefix.
_TSQUERY = """(websearch_to_tsquery('spanish', search_fold(%(q)s))
             || websearch_to_tsquery('english', search_fold(%(q)s))
             || to_tsquery('simple', search_fold(%(prefix)s)))"""
# Typos: each word of 5+ letters also as the product-name words one edit away (migrations/0014). The
# typo query is computed first, on its own (`typo_query`), and sent as a constant: the planner then
# estimates it and uses the search index (a parameter computed inside the query it cannot estimate,
# and it chose a sequential scan).
# Exact matches (what was typed) rank 1 + their rank, matches through a typo only their rank (< 1):
# ts_rank's normalisation 32 is rank / (rank + 1), the same order as the raw rank, within [0, 1).
_TYPOS = "%(typos)s::tsquery"
_RANK = f"""(CASE WHEN p.search @@ {_TSQUERY} THEN 1 + ts_rank(p.search, {_TSQUERY}, 32)
                 ELSE ts_rank(p.search, {_TYPOS}, 32) END)::real"""


def typo_query(conn: Connection, q: str | None) -> str | None:
    """The tsquery (as text) that also matches the typos of `q`'s words, None when no word has a
    product-name word one edit away (or nothing was typed)."""
    words = _words(q or "")
    if not words:
        return None
    return one(conn.execute("SELECT search_typo_query(%s::text[])::text AS typos", (words,)))["typos"]


def _words(q: str) -> list[str]:
    return re.findall(r"\w+", q.lower())


def _prefix_query(q: str) -> str:
    """Every word typed as a prefix: 'cami':* & 'roj':* (words are \\w+, so quoting is safe)."""
    return " & ".join(f"'{word}':*" for word in _words(q))


def sort_order(query: ProductFilters) -> tuple[str, str]:
    """Relevance first when searching, else newest first; names and prices ascend by default."""
    sort = query.sort or ("relevance" if query.q else "created_at")
    if sort == "relevance" and not query.q:
        raise BadRequest("Sorting by relevance needs a search (q).")
    return sort, query.order or ("asc" if sort in ("name", "price") else "desc")


def _filters(query: ProductFilters, typos: str | None) -> tuple[list[str], dict]:
    """The WHERE conditions of the list's filters and search, with their parameters."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if query.status:
        where.append("p.status = %(status)s")
        params["status"] = query.status
    else:
        where.append("p.status <> 'archived'")
    if query.category and query.include_subcategories:
        where.append("""p.category_id IN (WITH RECURSIVE tree AS (
                            SELECT id FROM categories WHERE id = %(category)s
                            UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id)
                        SELECT id FROM tree)""")
    elif query.category:
        where.append("p.category_id = %(category)s")
    params["category"] = query.category
    if query.currency:
        where.append("p.currency = %(currency)s")
        params["currency"] = query.currency
    if query.min_price is not None:
        where.append("coalesce(p.price, -1) >= %(min_price)s")
        params["min_price"] = query.min_price
    if query.max_price is not None:
        where.append("coalesce(p.price, -1) BETWEEN 0 AND %(max_price)s")
        params["max_price"] = query.max_price
    if query.has_sku is not None:
        where.append("p.sku IS NOT NULL" if query.has_sku else "p.sku IS NULL")
    if query.q:
        params.update(q=query.q, prefix=_prefix_query(query.q), typos=typos)
        where.append(
            f"(p.search @@ {_TSQUERY} OR p.search @@ {_TYPOS})" if typos else f"p.search @@ {_TSQUERY}"
        )
    return where, params


def build_list_query(
    query: ProductFilters, typos: str | None = None, *, limit: int | None = None, cursor: str | None = None
) -> tuple[sql.Composed, dict]:
    """The SQL of a list/search page (`limit` rows after `cursor`, taken from the query when it has
    them; `typos` from `typo_query`); separate from execution so the bench can EXPLAIN it and the
    export can run it."""
    if isinstance(query, ProductQuery):
        limit, cursor = limit or query.limit, cursor if cursor is not None else query.cursor
    if limit is None:
        raise TypeError("filters without a page size need an explicit limit")
    sort, order = sort_order(query)
    where, params = _filters(query, typos)
    if sort == "price":
        where.append("p.price IS NOT NULL")
    params["limit"] = limit + 1
    expression, cast, parse = SORTS[sort]
    after = pagination.sorted_after(cursor, sort, order, parse)
    keyset = ""
    if after is not None:
        params.update(after_key=after[0], after_id=after[1])
        operator = ">" if order == "asc" else "<"
        keyset = f"WHERE (s.sort_key, s.id) {operator} (%(after_key)s::{cast}, %(after_id)s)"
    direction = "ASC" if order == "asc" else "DESC"
    rank = (_RANK if typos else f"(1 + ts_rank(p.search, {_TSQUERY}, 32))::real") if query.q else "0::real"
    # Images are looked up for the rows of the page only, after the limit.
    text = f"""SELECT p.*, {IMAGES} FROM (
                   SELECT * FROM (
                       SELECT {FIELDS}, {expression.format(rank=rank)} AS sort_key FROM products p
                       WHERE {" AND ".join(where)}) s
                   {keyset}
                   ORDER BY s.sort_key {direction}, s.id {direction}
                   LIMIT %(limit)s) p
               ORDER BY p.sort_key {direction}, p.id {direction}"""
    return sql.Composed([sql.SQL(text)]), params


def list_products(db: Database, query: ProductQuery) -> dict:
    with db.transaction() as conn:
        statement, params = build_list_query(query, typo_query(conn, query.q))
        rows = conn.execute(statement, params).fetchall()
    result = pagination.sorted_page(rows, query.limit, *sort_order(query))
    result["items"] = [public(r) for r in result["items"]]
    return result
