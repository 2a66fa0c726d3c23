"""Categories: a tree of any depth (parent_id). Moves that would make a cycle are refused; a category
with products or subcategories cannot be deleted. Every change is audited in its own transaction."""

from __future__ import annotations

import uuid

from angebae import audit, concurrency
from angebae.catalog.products import diff, insert_with_slug, public
from angebae.db import Connection, Database, one, update_columns
from angebae.errors import Conflict, NotFound, ValidationFailed
from angebae.models import CategoryCreate, CategoryUpdate

COLUMNS = "id, name, slug, parent_id, version, created_at, updated_at"


class CategoryNotFound(NotFound):
    code, message = "category_not_found", "The category does not exist."


class CategoryCycle(Conflict):
    code, message = "category_cycle", "A category cannot be moved under itself or its descendants."


class CategoryInUse(Conflict):
    code, message = "category_in_use", "The category still has products or subcategories."


def _lock_tree(conn: Connection) -> None:
    # Moves are serialised: two concurrent moves could otherwise each pass the cycle check.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('angebae.catalog.categories'))")


def _fetch(conn: Connection, category_id: uuid.UUID, *, lock: bool = False) -> dict:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM categories WHERE id = %s{' FOR UPDATE' if lock else ''}", (category_id,)
    ).fetchone()
    if row is None:
        raise CategoryNotFound()
    return row


def _check_parent(conn: Connection, parent_id: uuid.UUID | None, moving: uuid.UUID | None = None) -> None:
    if parent_id is None:
        return
    if not conn.execute("SELECT 1 FROM categories WHERE id = %s", (parent_id,)).fetchone():
        raise ValidationFailed("The parent category does not exist.", details={"parent_id": str(parent_id)})
    if moving is None:
        return
    cycle = conn.execute(
        """WITH RECURSIVE ancestors AS (
               SELECT id, parent_id FROM categories WHERE id = %s
               UNION ALL SELECT c.id, c.parent_id FROM categories c JOIN ancestors a ON c.id = a.parent_id)
           SELECT 1 FROM ancestors WHERE id = %s""",
        (parent_id, moving),
    ).fetchone()
    if cycle:
        raise CategoryCycle()


def list_categories(db: Database) -> list[dict]:
    with db.transaction() as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM categories ORDER BY name, id").fetchall()
    return [public(r) for r in rows]


def create_category(db: Database, data: CategoryCreate, actor: dict) -> dict:
    with db.transaction() as conn:
        _check_parent(conn, data.parent_id)
        category_id = insert_with_slug(
            conn, "categories", data.name, {"name": data.name, "parent_id": data.parent_id}
        )
        category = _fetch(conn, category_id)
        audit.record(
            conn,
            action="create",
            entity="category",
            entity_id=category_id,
            actor=actor,
            after=public(category),
        )
    return public(category)


def get_category(db: Database, category_id: uuid.UUID) -> dict:
    with db.transaction() as conn:
        return public(_fetch(conn, category_id))


def update_category(
    db: Database, category_id: uuid.UUID, data: CategoryUpdate, actor: dict, if_match: str | None = None
) -> dict:
    """Apply the fields sent if the category is still at the version the client read (If-Match or
    `version`: 428 with neither, 412/409 when it changed since)."""
    expected = concurrency.expected(if_match, data.version)
    changes = {k: getattr(data, k) for k in data.model_fields_set if k != "version"}
    with db.transaction() as conn:
        _lock_tree(conn)
        before = _fetch(conn, category_id, lock=True)
        expected.check(before["version"])
        if not changes:
            return public(before)
        if "parent_id" in changes:
            _check_parent(conn, changes["parent_id"], moving=category_id)
        update_columns(conn, "categories", category_id, changes, bump_version=True)
        after = _fetch(conn, category_id)
        old, new = diff(before, after)
        audit.record(
            conn,
            action="update",
            entity="category",
            entity_id=category_id,
            actor=actor,
            before=old,
            after=new,
        )
    return public(after)


def delete_category(db: Database, category_id: uuid.UUID, actor: dict, if_match: str | None = None) -> None:
    """Delete an unused category; an If-Match, when sent, must name its current version (412)."""
    expected = concurrency.expected(if_match, required=False)
    with db.transaction() as conn:
        _lock_tree(conn)
        before = _fetch(conn, category_id, lock=True)
        if expected:
            expected.check(before["version"])
        use = one(
            conn.execute(
                """SELECT (SELECT count(*) FROM products WHERE category_id = %(id)s) AS products,
                      (SELECT count(*) FROM categories WHERE parent_id = %(id)s) AS subcategories""",
                {"id": category_id},
            )
        )
        if use["products"] or use["subcategories"]:
            raise CategoryInUse(details=use)
        conn.execute("DELETE FROM categories WHERE id = %s", (category_id,))
        audit.record(
            conn,
            action="delete",
            entity="category",
            entity_id=category_id,
            actor=actor,
            before=public(before),
        )
