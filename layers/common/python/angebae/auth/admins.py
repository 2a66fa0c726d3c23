"""Admin accounts: creation (the `seed-admin` command and `POST /admin/users`)."""

from __future__ import annotations

from angebae.auth.passwords import checked_hash
from angebae.auth.sessions import ROLES
from angebae.db import Database
from angebae.errors import ValidationFailed


def create_or_update_admin(db: Database, email: str, password: str, *, role: str = "admin",
                           cost: int = 12) -> tuple[dict, bool]:
    """Create the admin, or reset the password of an existing one. Returns (admin, created)."""
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed("The email address is not valid.")
    if role not in ROLES:  # before hashing: the database's CHECK error would print the row, hash included
        raise ValidationFailed(f"The role must be one of {', '.join(ROLES)}, not {role!r}.")
    password_hash = checked_hash(password, email, cost)
    with db.transaction() as conn:
        row = conn.execute(
            """INSERT INTO admin_users (email, password_hash, role) VALUES (%s, %s, %s)
               ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash,
                   role = EXCLUDED.role, is_active = true, updated_at = now(),
                   session_generation = admin_users.session_generation + 1  -- old sessions end
               RETURNING *, (xmax = 0) AS created""",
            (email, password_hash, role),
        ).fetchone()
    return row, row.pop("created")


def seed_admin(database_url: str, email: str, password: str, role: str = "admin",
               cost: int = 12) -> bool:
    """Idempotent: True when the admin was created, False when it existed (password reset)."""
    db = Database(database_url, application_name="angebae-cli")
    try:
        _, created = create_or_update_admin(db, email, password, role=role, cost=cost)
        return created
    finally:
        db.close()
