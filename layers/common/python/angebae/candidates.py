"""From OCR candidates to products: correct, accept (a draft product, or an update of the product that
already has the candidate's SKU), reject, in bulk. A candidate is decided once: deciding it again is 409."""

from __future__ import annotations

import uuid

from psycopg import Connection
from psycopg.types.json import Jsonb

from . import audit, products
from .db import Database, update_columns
from .errors import AppError, Conflict, NotFound
from .models import CandidateUpdate
from .products import diff, public

COLUMNS = """id, job_id, media_id, page_number, position, name, price, currency, sku, qty, bbox, confidence,
             raw, attributes, status, product_id, decided_by, decided_at, created_at, updated_at"""
PROPOSED_FIELDS = ("name", "price", "currency")


class CandidateNotFound(NotFound):
    code, message = "candidate_not_found", "The candidate does not exist."


class CandidateDecided(Conflict):
    code, message = "candidate_decided", "The candidate was already accepted or rejected."


def _fetch(conn: Connection, candidate_id: uuid.UUID, *, lock: bool = False) -> dict:
    lock_clause = " FOR UPDATE" if lock else ""
    row = conn.execute(f"SELECT {COLUMNS} FROM product_candidates WHERE id = %s{lock_clause}",
                       (candidate_id,)).fetchone()
    if row is None:
        raise CandidateNotFound()
    return row


def _pending(conn: Connection, candidate_id: uuid.UUID) -> dict:
    candidate = _fetch(conn, candidate_id, lock=True)
    if candidate["status"] != "pending":
        product_id = candidate["product_id"]
        raise CandidateDecided(details={"status": candidate["status"],
                                        "product_id": product_id and str(product_id)})
    return candidate


def _changes(candidate: dict, product: dict) -> dict:
    """What accepting would change on the product: names and prices read from the document."""
    return {field: candidate[field] for field in PROPOSED_FIELDS
            if candidate[field] is not None and candidate[field] != product[field]}


def with_proposals(conn: Connection, candidates: list[dict]) -> list[dict]:
    """Candidates as JSON, each pending one with a SKU of an existing product carrying a `proposal`:
    {product_id, product_version, changes: {field: {old, new}}}."""
    skus = [c["sku"] for c in candidates if c["sku"] and c["status"] == "pending"]
    matches = {p["sku"]: p for p in conn.execute(
        "SELECT id, sku, name, price, currency, version FROM products WHERE sku = ANY(%s)", (skus,))}
    out = []
    for candidate in candidates:
        item = public(candidate)
        product = matches.get(candidate["sku"]) if candidate["status"] == "pending" else None
        item["proposal"] = None if product is None else {
            "product_id": str(product["id"]),
            "product_version": product["version"],
            "changes": {k: public({"old": product[k], "new": v})
                        for k, v in _changes(candidate, product).items()},
        }
        out.append(item)
    return out


def get_candidate(db: Database, candidate_id: uuid.UUID) -> dict:
    with db.transaction() as conn:
        return with_proposals(conn, [_fetch(conn, candidate_id)])[0]


def update_candidate(db: Database, candidate_id: uuid.UUID, data: CandidateUpdate, actor: dict) -> dict:
    changes = {k: getattr(data, k) for k in data.model_fields_set}
    with db.transaction() as conn:
        before = _pending(conn, candidate_id)
        if not changes:
            return with_proposals(conn, [before])[0]
        if "attributes" in changes:
            changes["attributes"] = Jsonb(changes["attributes"])
        update_columns(conn, "product_candidates", candidate_id, changes)
        after = _fetch(conn, candidate_id)
        old, new = diff(before, after)
        audit.record(conn, action="update", entity="candidate", entity_id=candidate_id, actor=actor,
                     before=old, after=new)
        return with_proposals(conn, [after])[0]


def _decide(conn: Connection, candidate: dict, status: str, actor: dict, product_id=None) -> dict:
    after = conn.execute(
        f"""UPDATE product_candidates SET status = %s, product_id = %s, decided_by = %s, decided_at = now(),
                   updated_at = now() WHERE id = %s RETURNING {COLUMNS}""",
        (status, product_id, actor["id"], candidate["id"])).fetchone()
    audit.record(conn, action={"accepted": "accept", "rejected": "reject"}[status],
                 entity="candidate", entity_id=candidate["id"], actor=actor,
                 before={"status": candidate["status"]},
                 after={"status": status, "product_id": product_id and str(product_id)})
    return after


def _source(candidate: dict) -> dict:
    return {"media_id": str(candidate["media_id"]), "job_id": str(candidate["job_id"]),
            "page": candidate["page_number"], "position": candidate["position"],
            "confidence": candidate["confidence"],
            "quantity": None if candidate["qty"] is None else str(candidate["qty"])}


def accept(db: Database, candidate_id: uuid.UUID, actor: dict) -> dict:
    """A draft product from the candidate, or the proposed update of the product with its SKU."""
    with db.transaction() as conn:
        candidate = _pending(conn, candidate_id)
        existing = None
        if candidate["sku"]:
            existing = conn.execute("SELECT id FROM products WHERE sku = %s FOR UPDATE",
                                    (candidate["sku"],)).fetchone()
        if existing:
            before = products.fetch(conn, existing["id"], lock=True)
            changes = _changes(candidate, before)
            product = (products.apply_changes(conn, before, changes, actor, action="update_from_candidate")
                       if changes else before)
            outcome = "updated" if changes else "unchanged"
        else:
            fields = {"name": candidate["name"], "sku": candidate["sku"], "price": candidate["price"],
                      "currency": candidate["currency"] and candidate["currency"].strip(),
                      "status": "draft", "source_candidate_id": candidate["id"],
                      "attributes": {**candidate["attributes"], "source": _source(candidate)}}
            product = products.insert_product(conn, fields, actor, images=[candidate["media_id"]],
                                              action="create_from_candidate")
            outcome = "created"
        decided = _decide(conn, candidate, "accepted", actor, product["id"])
        return {"candidate": public(decided), "product": public(product), "outcome": outcome}


def reject(db: Database, candidate_id: uuid.UUID, actor: dict) -> dict:
    with db.transaction() as conn:
        return {"candidate": public(_decide(conn, _pending(conn, candidate_id), "rejected", actor))}


def bulk(db: Database, action: str, candidate_ids: list[uuid.UUID], actor: dict) -> list[dict]:
    """Each id decided in its own transaction; one result per id (status and body or error)."""
    decide = accept if action == "accept" else reject
    results = []
    for candidate_id in dict.fromkeys(candidate_ids):
        try:
            results.append({"id": str(candidate_id), "status": 200, **decide(db, candidate_id, actor)})
        except AppError as exc:
            if exc.status >= 500:
                raise
            results.append({"id": str(candidate_id), "status": exc.status, **exc.to_body()})
    return results
