"""From OCR candidates to products: correct, accept, reject, in bulk. A candidate that matches a product
(the same SKU in any case, or a likely duplicate by name) is accepted only with an explicit choice:
update that product with the proposed changes (naming the product version read, as PATCH /products
does), create a new one, or skip. A candidate is decided once: deciding it again is 409; reopening an
`update` accept restores the product's old values while the product is still as the accept left it."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from psycopg.types.json import Jsonb

from angebae import audit, concurrency, formats, pagination
from angebae.catalog import products
from angebae.catalog.products import diff, public
from angebae.db import Connection, Database, one, update_columns
from angebae.errors import AppError, Conflict, NotFound, PreconditionFailed, PreconditionRequired
from angebae.jobs import previews
from angebae.models import CandidateQuery, CandidateUpdate

COLUMNS = """id, job_id, media_id, page_number, position, name, price, currency, sku, qty, bbox, confidence,
             raw, attributes, status, version, product_id, superseded_by, duplicate_of, decision_reason,
             applied_changes, decided_by, decided_at, created_at, updated_at"""
PROPOSED_FIELDS = ("name", "price", "currency")
CHOICES = ("update", "create", "skip")
MATCH_COLUMNS = "p.id, p.sku, p.name, p.price, p.currency, p.status, p.version"


class CandidateNotFound(NotFound):
    code, message = "candidate_not_found", "The candidate does not exist."


class CandidateDecided(Conflict):
    code = "candidate_decided"
    message = "The candidate was already decided (accepted, rejected or superseded)."


class ChoiceRequired(Conflict):
    code = "choice_required"
    message = (
        "The candidate matches a product (details.proposal): accept it again with a choice: "
        '"update" that product, "create" a new one, or "skip".'
    )


STALE_MESSAGE = (
    "The product version named is not the product's current one (details.current_version, "
    "also its ETag): read the proposal again (details.proposal) and choose with its "
    "product_version."
)


class StaleProposal(Conflict):
    code, message = "stale_version", STALE_MESSAGE


class StaleProposalIfMatch(PreconditionFailed):
    code, message = "stale_version", STALE_MESSAGE.replace("product_version.", "ETag (If-Match).")


class ProposalVersionRequired(PreconditionRequired):
    code = "version_required"
    message = (
        'Choice "update" changes the product: send the version you read, as "product_version" '
        "(the proposal's) or an If-Match header (its ETag)."
    )


class NoMatch(Conflict):
    code = "no_match"
    message = 'The candidate matches no product: accept it without a choice (or "create").'


def _fetch(conn: Connection, candidate_id: uuid.UUID, *, lock: bool = False) -> dict:
    lock_clause = " FOR UPDATE" if lock else ""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM product_candidates WHERE id = %s{lock_clause}", (candidate_id,)
    ).fetchone()
    if row is None:
        raise CandidateNotFound()
    return row


def _pending(conn: Connection, candidate_id: uuid.UUID) -> dict:
    candidate = _fetch(conn, candidate_id, lock=True)
    if candidate["status"] != "pending":
        product_id = candidate["product_id"]
        raise CandidateDecided(
            details={"status": candidate["status"], "product_id": product_id and str(product_id)}
        )
    return candidate


def _text(value):
    return value.strip() if isinstance(value, str) else value


# Attributes the OCR writes that hold money, and quantities: written out in the API's formats.
MONEY_ATTRIBUTES = ("line_total", "old_price", "gross_price")
QUANTITY_ATTRIBUTES = ("price_basis_quantity",)


def _formatted(value, write):
    """A decimal string in the API's format; anything else (a reviewer's own text) as written."""
    try:
        number = Decimal(value) if isinstance(value, str) else None
        return write(number) if number is not None and abs(number.adjusted()) <= 20 else value
    except (InvalidOperation, ValueError):  # not a number, NaN, infinity
        return value


def attributes_out(attributes: dict | None) -> dict:
    """The attributes with money as money ("11.99", not "11.99000") and quantities as plain decimals."""
    out = dict(attributes or {})
    for keys, write in ((MONEY_ATTRIBUTES, formats.money), (QUANTITY_ATTRIBUTES, formats.quantity)):
        out.update({k: _formatted(out[k], write) for k in keys if k in out})
    return out


def candidate_out(candidate: dict) -> dict:
    """A candidate as JSON: money as money, its quantity a plain decimal ("20", not "20.00")."""
    item = public(candidate)
    item["qty"] = formats.quantity(candidate["qty"])
    item["attributes"] = attributes_out(candidate["attributes"])
    return item


def _changes(candidate: dict, product: dict) -> dict:
    """What accepting would change on the product: names and prices read from the document, and the
    SKU where the product has none."""
    fields = PROPOSED_FIELDS + (("sku",) if product["sku"] is None else ())
    return {
        field: _text(candidate[field])
        for field in fields
        if candidate[field] is not None and _text(candidate[field]) != _text(product[field])
    }


def _matches(conn: Connection, candidates: list[dict]) -> dict:
    """{candidate id: (product, "sku" | "name")} for the pending candidates that match a product: the
    product with the candidate's SKU (any case; the exact spelling first), else a likely duplicate: a
    product of the same normalised name (`name_key`) made from the same media (its attributes.source) or
    naming the same
    `supplier` in its attributes, whose SKU (if both have one) does not say otherwise."""
    pending = [c for c in candidates if c["status"] == "pending"]
    found: dict = {}
    skus = [c["sku"].lower() for c in pending if c["sku"]]
    if skus:
        by_sku: dict = {}
        for row in conn.execute(
            f"SELECT lower(sku) AS key, {MATCH_COLUMNS} FROM products p "
            "WHERE lower(sku) = ANY(%s) ORDER BY created_at, id",
            (skus,),
        ):
            by_sku.setdefault(row["key"], []).append(row)
        for c in pending:
            rows = by_sku.get(c["sku"].lower()) if c["sku"] else None
            if rows:
                exact = [r for r in rows if r["sku"] == c["sku"]]
                found[c["id"]] = ((exact or rows)[0], "sku")
    rest = [c for c in pending if c["id"] not in found]
    if rest:
        rows = conn.execute(
            f"""SELECT DISTINCT ON (k.cid) k.cid, {MATCH_COLUMNS}
                FROM unnest(%s::uuid[], %s::text[], %s::uuid[], %s::text[], %s::text[])
                     AS k(cid, name, media, supplier, sku)
                JOIN products p ON name_key(p.name) = name_key(k.name)
                WHERE (p.sku IS NULL OR k.sku IS NULL OR lower(p.sku) = lower(k.sku))
                  AND (p.attributes->'source'->>'media_id' = k.media::text
                       OR (k.supplier IS NOT NULL AND p.attributes->>'supplier' = k.supplier))
                ORDER BY k.cid, p.updated_at DESC, p.id""",
            (
                [c["id"] for c in rest],
                [c["name"] for c in rest],
                [c["media_id"] for c in rest],
                [_supplier(c) for c in rest],
                [c["sku"] for c in rest],
            ),
        ).fetchall()
        found.update({r["cid"]: (r, "name") for r in rows})
    return found


def _supplier(candidate: dict) -> str | None:
    value = (candidate["attributes"] or {}).get("supplier")
    return value if isinstance(value, str) and value.strip() else None


def _proposal(candidate: dict, product: dict, match: str) -> dict:
    return {
        "product_id": str(product["id"]),
        "product_version": product["version"],
        "product_status": product["status"],
        "match": match,
        "changes": {
            k: public({"old": _text(product[k]), "new": v}) for k, v in _changes(candidate, product).items()
        },
        "choices": list(CHOICES),
    }


def with_proposals(conn: Connection, candidates: list[dict]) -> list[dict]:
    """Candidates as JSON, each pending one that matches a product (see `_matches`) carrying a
    `proposal`: {product_id, product_version, product_status, match, changes: {field: {old, new}},
    choices}; accepting it then needs one of the choices."""
    matches = _matches(conn, candidates)
    out = []
    for candidate in candidates:
        item = candidate_out(candidate)
        found = matches.get(candidate["id"])
        item["proposal"] = None if found is None else _proposal(candidate, *found)
        out.append(item)
    return out


def _cursor_confidence(value) -> float:
    confidence = float(value)
    if not 0 <= confidence <= 1:
        raise ValueError("not a confidence")
    return confidence


# Sort key column, the type a cursor value is cast back to, its parser.
QUEUE_SORTS = {
    "created_at": ("created_at", "timestamptz", pagination.timestamp),
    "confidence": ("confidence", "real", _cursor_confidence),
    "name": ("name_sort_key", 'text COLLATE "C"', pagination.text),  # as /products (migrations/0016)
}


def review_queue(db: Database, query: CandidateQuery, storage=None) -> dict:
    """GET /candidates: candidates across jobs, filtered, sorted, keyset-paginated, with proposals."""
    column, cast, parse = QUEUE_SORTS[query.sort]
    order = query.order or ("desc" if query.sort == "created_at" else "asc")
    params = {
        "status": None if query.status == "all" else query.status,
        "job": query.job_id,
        "media": query.media_id,
        "min": query.min_confidence,
        "max": query.max_confidence,
        "has_sku": query.has_sku,
        "n": query.limit + 1,
        "key": None,
        "id": None,
    }
    keyset = "TRUE"
    after = pagination.sorted_after(query.cursor, query.sort, order, parse)
    if after is not None:
        params.update(key=after[0], id=after[1])
        keyset = f"({column}, id) {'>' if order == 'asc' else '<'} (%(key)s::{cast}, %(id)s::uuid)"
    direction = "ASC" if order == "asc" else "DESC"
    with db.transaction() as conn:
        rows = conn.execute(
            f"""SELECT {COLUMNS}, {column} AS sort_key FROM product_candidates
                WHERE (%(status)s::text IS NULL OR status = %(status)s)
                  AND (%(job)s::uuid IS NULL OR job_id = %(job)s)
                  AND (%(media)s::uuid IS NULL OR media_id = %(media)s)
                  AND (%(min)s::real IS NULL OR confidence >= %(min)s::real)
                  AND (%(max)s::real IS NULL OR confidence <= %(max)s::real)
                  AND (%(has_sku)s::boolean IS NULL OR (sku IS NOT NULL) = %(has_sku)s)
                  AND {keyset}
                ORDER BY {column} {direction}, id {direction} LIMIT %(n)s""",
            params,
        ).fetchall()
        result = pagination.sorted_page(rows, query.limit, query.sort, order)
        result["items"] = with_page_links(conn, storage, with_proposals(conn, result["items"]))
    return result


def with_page_links(conn: Connection, storage, items: list[dict]) -> list[dict]:
    """Each candidate (as JSON) with its page's presigned preview_url and thumbnail_url (None until
    the worker made them, or without storage)."""
    pages = {}
    if storage is not None and items:
        pages = {
            (str(r["job_id"]), r["page_number"]): r
            for r in conn.execute(
                """SELECT job_id, page_number, preview_key, thumbnail_key FROM ocr_pages
               WHERE (job_id, page_number) IN (SELECT * FROM unnest(%s::uuid[], %s::int[]))""",
                ([i["job_id"] for i in items], [i["page_number"] for i in items]),
            )
        }
    for item in items:
        page = pages.get((item["job_id"], item["page_number"]))
        found = previews.links(storage, page) if page else {}
        item["preview_url"], item["thumbnail_url"] = found.get("preview"), found.get("thumbnail")
    return items


def get_candidate(db: Database, candidate_id: uuid.UUID, storage=None) -> dict:
    with db.transaction() as conn:
        return with_page_links(conn, storage, with_proposals(conn, [_fetch(conn, candidate_id)]))[0]


def update_candidate(
    db: Database, candidate_id: uuid.UUID, data: CandidateUpdate, actor: dict, if_match: str | None = None
) -> dict:
    """A correction of a pending candidate, naming the version read (as PATCH /products: 428 without,
    412/409 stale_version when another reviewer changed it since)."""
    changes = {k: getattr(data, k) for k in data.model_fields_set if k != "version"}
    with db.transaction() as conn:
        before = _pending(conn, candidate_id)  # a decided one is 409 whatever version is named
        concurrency.expected(if_match, data.version).check(before["version"])
        if not changes:
            return with_proposals(conn, [before])[0]
        if "attributes" in changes:
            changes["attributes"] = Jsonb(changes["attributes"])
        update_columns(conn, "product_candidates", candidate_id, changes, bump_version=True)
        after = _fetch(conn, candidate_id)
        old, new = diff(before, after)
        audit.record(
            conn,
            action="update",
            entity="candidate",
            entity_id=candidate_id,
            actor=actor,
            before=old,
            after=new,
        )
        return with_proposals(conn, [after])[0]


def _decide(
    conn: Connection,
    candidate: dict,
    status: str,
    actor: dict,
    product_id=None,
    *,
    action: str | None = None,
    reason: str | None = None,
    applied: dict | None = None,
) -> dict:
    after = one(
        conn.execute(
            f"""UPDATE product_candidates SET status = %s, product_id = %s, decided_by = %s,
                   decided_at = now(), decision_reason = %s, applied_changes = %s, updated_at = now(),
                   version = version + 1
            WHERE id = %s RETURNING {COLUMNS}""",
            (status, product_id, actor["id"], reason, applied and Jsonb(applied), candidate["id"]),
        )
    )
    recorded = {"status": status, "product_id": product_id and str(product_id)}
    recorded.update({k: v for k, v in (("reason", reason), ("applied_changes", applied)) if v})
    audit.record(
        conn,
        action=action or {"accepted": "accept", "rejected": "reject"}[status],
        entity="candidate",
        entity_id=candidate["id"],
        actor=actor,
        before={"status": candidate["status"]},
        after=recorded,
    )
    return after


def _source(candidate: dict) -> dict:
    return {
        "media_id": str(candidate["media_id"]),
        "job_id": str(candidate["job_id"]),
        "page": candidate["page_number"],
        "position": candidate["position"],
        "confidence": candidate["confidence"],
        "quantity": formats.quantity(candidate["qty"]),
    }


def _lock_keys(conn: Connection, candidate: dict) -> None:
    """Accepts of candidates that could match one product (same SKU in any case, same name) take
    turns, so two of them never both create it."""
    conn.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended(k, 11)) FROM unnest(ARRAY[
                        'name:' || name_key(%(name)s), 'sku:' || lower(%(sku)s)]) AS k
                    WHERE k IS NOT NULL ORDER BY k""",
        {"name": candidate["name"], "sku": candidate["sku"]},
    )


def _create(conn: Connection, candidate: dict, actor: dict, *, sku_taken: bool = False) -> dict:
    source = _source(candidate)
    if sku_taken:
        source["sku"] = candidate["sku"]  # another product has it: the new one is made without it
    fields = {
        "name": candidate["name"],
        "sku": None if sku_taken else candidate["sku"],
        "price": candidate["price"],
        "currency": _text(candidate["currency"]),
        "status": "draft",
        "source_candidate_id": candidate["id"],
        "attributes": {**attributes_out(candidate["attributes"]), "source": source},
    }
    # No images: the source document is not a product photo (attributes.source names it).
    return products.insert_product(conn, fields, actor, action="create_from_candidate")


def _check_version(
    product: dict, proposal: dict, choice: str, product_version: int | None, if_match: str | None
) -> None:
    """The product version the client read (If-Match first, else product_version), as PATCH
    /products/{id} takes it: required for `update` (428), checked when sent (409, If-Match 412)."""
    headers = {"ETag": products.etag(product)}
    expected = concurrency.expected(if_match, product_version, required=False)
    if expected is None:
        if choice == "update":
            raise ProposalVersionRequired(
                details={"proposal": proposal, "current_version": product["version"]}, headers=headers
            )
        return
    try:
        expected.check(product["version"])
    except AppError as exc:
        stale = StaleProposalIfMatch if expected.from_header else StaleProposal
        raise stale(details={**(exc.details or {}), "proposal": proposal}, headers=headers) from None


def _update(conn: Connection, candidate: dict, product: dict, actor: dict) -> tuple[dict, dict | None]:
    """Choice `update`: the product with the proposed changes, and what was applied (for a reopen)."""
    changes = _changes(candidate, product)
    if not changes:
        return product, None
    after = products.apply_changes(conn, product, changes, actor, action="update_from_candidate")
    return after, {
        "version": after["version"],
        "before": public({k: product[k] for k in changes}),
        "after": public({k: after[k] for k in changes}),
    }


def accept(
    db: Database,
    candidate_id: uuid.UUID,
    actor: dict,
    *,
    choice: str | None = None,
    product_version: int | None = None,
    if_match: str | None = None,
) -> dict:
    """A draft product from the candidate; when it matches a product (see `_matches`) nothing happens
    without a `choice` (409 choice_required with the proposal): update it (naming the version read:
    `_check_version`), create another, or skip."""
    with db.transaction() as conn:
        candidate = _pending(conn, candidate_id)
        _lock_keys(conn, candidate)
        found = _matches(conn, [candidate]).get(candidate["id"])
        if found is None:
            if choice in ("update", "skip"):
                raise NoMatch(details={"choice": choice})
            product = _create(conn, candidate, actor)
            decided = _decide(conn, candidate, "accepted", actor, product["id"])
            return {
                "candidate": candidate_out(decided),
                "product": public(product),
                "outcome": "created",
                "proposal": None,
            }
        match = found[1]
        product = products.fetch(conn, found[0]["id"], lock=True)
        proposal = _proposal(candidate, product, match)
        if choice is None:
            raise ChoiceRequired(details={"proposal": proposal})
        _check_version(product, proposal, choice, product_version, if_match)
        applied = None
        if choice == "skip":
            decided = _decide(conn, candidate, "rejected", actor, product["id"], action="skip")
            outcome = "skipped"
        else:
            if choice == "update":
                product, applied = _update(conn, candidate, product, actor)
                outcome = "updated" if applied else "unchanged"
            else:
                product = _create(conn, candidate, actor, sku_taken=match == "sku")
                outcome = "created"
            decided = _decide(conn, candidate, "accepted", actor, product["id"], applied=applied)
        return {
            "candidate": candidate_out(decided),
            "product": public(product),
            "outcome": outcome,
            "proposal": proposal,
        }


def reject(db: Database, candidate_id: uuid.UUID, actor: dict, *, reason: str | None = None) -> dict:
    """Rejected, with the reviewer's optional reason (stored, audited, shown as decision_reason)."""
    with db.transaction() as conn:
        return {
            "candidate": candidate_out(
                _decide(conn, _pending(conn, candidate_id), "rejected", actor, reason=reason)
            )
        }


class NotDecided(Conflict):
    code, message = "candidate_pending", "The candidate is pending: there is no decision to reopen."


class NotItsProduct(Conflict):
    code = "product_not_created_by_candidate"
    message = "The candidate's product was not created by it (it was updated or skipped): it is not archived."


def _restored(field: str, value):
    return Decimal(value) if field == "price" and value is not None else value


def _undo(conn: Connection, candidate: dict, actor: dict) -> tuple[dict | None, dict | None]:
    """Reopening an `update` accept: the product's old values restored while it is still at the
    version the accept made (audited as revert_from_candidate); else its changes are kept, and said so.
    (product reverted or None, the answer's `undo` or None)."""
    applied = candidate["applied_changes"]
    if candidate["status"] != "accepted" or not applied or candidate["product_id"] is None:
        return None, None
    product = products.fetch(conn, candidate["product_id"], lock=True)
    undo = {
        "product_id": str(product["id"]),
        "changes": {k: {"old": applied["before"].get(k), "new": v} for k, v in applied["after"].items()},
    }
    if product["version"] != applied["version"]:
        return None, {**undo, "outcome": "kept", "product_version": product["version"]}
    restore = {k: _restored(k, v) for k, v in applied["before"].items()}
    product = products.apply_changes(conn, product, restore, actor, action="revert_from_candidate")
    return product, {**undo, "outcome": "reverted", "product_version": product["version"]}


def reopen(db: Database, candidate_id: uuid.UUID, actor: dict, *, archive_product: bool = False) -> dict:
    """A decided (or superseded) candidate back to pending, audited with what it was. A product its
    accept created stays (archive_product: it is archived in the same transaction); a product its
    `update` accept changed gets its old values back if it is still at the version the accept made,
    else keeps them (the answer's `undo` says which)."""
    with db.transaction() as conn:
        candidate = _fetch(conn, candidate_id, lock=True)
        if candidate["status"] == "pending":
            raise NotDecided()
        product, undo = None, None
        if archive_product:
            if candidate["product_id"] is None:
                raise NotItsProduct()
            product = products.fetch(conn, candidate["product_id"], lock=True)
            if product["source_candidate_id"] != candidate["id"] or candidate["status"] != "accepted":
                raise NotItsProduct(details={"product_id": str(product["id"])})
            if product["status"] != "archived":
                product = products.apply_changes(
                    conn, product, {"status": "archived"}, actor, action="archive"
                )
        else:
            product, undo = _undo(conn, candidate, actor)
        after = one(
            conn.execute(
                f"""UPDATE product_candidates SET status = 'pending', product_id = NULL, superseded_by = NULL,
                       duplicate_of = NULL, decision_reason = NULL, applied_changes = NULL,
                       decided_by = NULL, decided_at = NULL, updated_at = now(), version = version + 1
                WHERE id = %s RETURNING {COLUMNS}""",
                (candidate_id,),
            )
        )
        audit.record(
            conn,
            action="reopen",
            entity="candidate",
            entity_id=candidate_id,
            actor=actor,
            before=public(
                {
                    k: candidate[k]
                    for k in (
                        "status",
                        "product_id",
                        "superseded_by",
                        "duplicate_of",
                        "decision_reason",
                        "decided_by",
                        "decided_at",
                    )
                }
            ),
            after={
                "status": "pending",
                "archived_product": archive_product and product and str(product["id"]) or None,
                "undo": undo,
            },
        )
        return {
            "candidate": with_proposals(conn, [after])[0],
            "product": product and public(product),
            "undo": undo,
        }


def bulk(
    db: Database, action: str, candidate_ids: list[uuid.UUID], actor: dict, *, choice: str | None = None
) -> list[dict]:
    """Each id decided in its own transaction; one result per id (status and body or error)."""
    results = []
    for candidate_id in dict.fromkeys(candidate_ids):
        try:
            body = (
                accept(db, candidate_id, actor, choice=choice)
                if action == "accept"
                else reject(db, candidate_id, actor)
            )
            results.append({"id": str(candidate_id), "status": 200, **body})
        except AppError as exc:
            if exc.status >= 500:
                raise
            results.append({"id": str(candidate_id), "status": exc.status, **exc.to_body()})
    return results
