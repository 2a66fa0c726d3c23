"""Admin accounts: created, changed and listed by admins (`/admin/users`) or by the `seed-admin`
command, both with the same rules (AdminCreate); the audit trail reader (`/audit`)."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from angebae import audit, concurrency
from angebae.auth.passwords import checked_hash, verify_password
from angebae.auth.sessions import account_key, public_admin
from angebae.catalog.products import diff, public
from angebae.db import Database, one, update_columns
from angebae.errors import Conflict, Forbidden, NotFound, ValidationFailed
from angebae.models import AdminCreate, AdminUpdate, AuditQuery, ListQuery, Role
from angebae.pagination import page, time_key_cursor
from angebae.settings import Settings

EMAIL_CONSTRAINT = "admin_users_email_key"
_LOCK_ADMINS = 0x616E6703  # advisory lock class: changes that may leave fewer active admins


class AdminNotFound(NotFound):
    code, message = "admin_not_found", "The admin user does not exist."


class EmailTaken(Conflict):
    code, message = "email_taken", "An admin user with this email already exists."


class LastAdmin(Conflict):
    code, message = "last_admin", "At least one active admin must remain."


class SelfLockout(Conflict):
    code, message = "self_lockout", "You cannot deactivate yourself or give up your own admin role."


def _shown(row: dict) -> dict:
    return public(public_admin(row))


def list_admins(db: Database, query: ListQuery) -> dict:
    after_at, after_id = time_key_cursor(query.cursor)
    keyset = sql.SQL("WHERE (created_at, id) > (%s::timestamptz, %s::uuid)") if after_at else sql.SQL("")
    with db.transaction() as conn:
        rows = conn.execute(
            sql.SQL("SELECT * FROM admin_users {} ORDER BY created_at, id LIMIT %s").format(keyset),
            [*((after_at, after_id) if after_at else ()), query.limit + 1],
        ).fetchall()
    result = page(rows, query.limit, lambda r: [r["created_at"], str(r["id"])])
    result["items"] = [_shown(r) for r in result["items"]]
    return result


def get_admin(db: Database, admin_id: uuid.UUID) -> dict:
    with db.transaction() as conn:
        row = conn.execute("SELECT * FROM admin_users WHERE id = %s", (admin_id,)).fetchone()
    if row is None:
        raise AdminNotFound()
    return _shown(row)


def create_admin(db: Database, settings: Settings, data: AdminCreate, actor: dict) -> dict:
    email = data.email.lower()
    password_hash = checked_hash(data.password, email, settings.bcrypt_cost)
    try:
        with db.transaction() as conn:
            row = one(
                conn.execute(
                    """INSERT INTO admin_users (email, password_hash, role)
                                      VALUES (%s, %s, %s) RETURNING *""",
                    (email, password_hash, data.role),
                )
            )
            audit.record(
                conn,
                action="create",
                entity="admin_user",
                entity_id=row["id"],
                actor=actor,
                after=_shown(row),
            )
    except Conflict as exc:
        if (exc.details or {}).get("constraint") == EMAIL_CONSTRAINT:
            raise EmailTaken(details={"email": email}) from exc
        raise
    return _shown(row)


def update_admin(
    db: Database,
    settings: Settings,
    admin_id: uuid.UUID,
    data: AdminUpdate,
    actor: dict,
    if_match: str | None = None,
) -> dict:
    """Change an admin. At least one active admin always remains: a change that may remove one (a
    demotion or a deactivation) takes one lock for all such changes, then, in the same transaction,
    checks that the actor is still an active admin and that another active admin remains. Two admins
    removing each other at once are serialised: the second sees the first's change and is refused."""
    expected = concurrency.expected(if_match, data.version)  # 428 without If-Match or version
    changes = {k: getattr(data, k) for k in data.model_fields_set if k != "version"}
    gives_up_admin = changes.get("is_active") is False or changes.get("role", "admin") != "admin"
    if admin_id == actor["id"] and gives_up_admin:
        raise SelfLockout()
    with db.transaction() as conn:
        if gives_up_admin:
            conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_ADMINS,))
        # Read after the lock: the actor may have been demoted since the request was authenticated.
        still = conn.execute(
            "SELECT 1 FROM admin_users WHERE id = %s AND role = 'admin' AND is_active", (actor["id"],)
        ).fetchone()
        if still is None:
            raise Forbidden("You are no longer an active admin.")
        before = conn.execute("SELECT * FROM admin_users WHERE id = %s FOR UPDATE", (admin_id,)).fetchone()
        if before is None:
            raise AdminNotFound()
        expected.check(before["version"])
        if (
            gives_up_admin
            and before["role"] == "admin"
            and before["is_active"]
            and not conn.execute(
                """SELECT 1 FROM admin_users WHERE role = 'admin' AND is_active AND id <> %s LIMIT 1""",
                (admin_id,),
            ).fetchone()
        ):
            raise LastAdmin()
        if "password" in changes:
            changes["password_hash"] = checked_hash(
                changes.pop("password"), before["email"], settings.bcrypt_cost
            )
        if "password_hash" in changes or changes.get("is_active") is False:
            # Sessions issued before a new password or a deactivation end now (and stay ended).
            changes["session_generation"] = before["session_generation"] + 1
        if not changes:
            return _shown(before)
        after = update_columns(conn, "admin_users", admin_id, changes, bump_version=True)
        if after is None:  # locked above: never
            raise AdminNotFound()
        old, new = diff(_shown(before), _shown(after))
        if "password_hash" in changes:
            new["password_changed"] = True
        audit.record(
            conn, action="update", entity="admin_user", entity_id=admin_id, actor=actor, before=old, after=new
        )
    return _shown(after)


def _audit_id(value) -> int:
    if type(value) is not int or not 0 < value < 2**63:
        raise ValueError("not an audit row id")
    return value


def list_audit(db: Database, query: AuditQuery) -> dict:
    """Newest first, filtered by entity, entity_id, actor (id or email), action and time range."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": query.limit + 1}
    for field in ("entity", "entity_id", "action"):
        if getattr(query, field):
            where.append(f"{field} = %({field})s")
            params[field] = getattr(query, field)
    if query.actor:
        try:
            params["actor"] = uuid.UUID(query.actor)
            where.append("actor_id = %(actor)s")
        except ValueError:
            params["actor"] = query.actor.lower()
            where.append("actor_email = %(actor)s")
    if query.since:
        where.append("at >= %(since)s")
        params["since"] = query.since
    if query.until:
        where.append("at < %(until)s")
        params["until"] = query.until
    after_at, after_id = time_key_cursor(query.cursor, key=_audit_id)
    if after_at:
        params.update(after_at=after_at, after_id=after_id)
        where.append("(at, id) < (%(after_at)s::timestamptz, %(after_id)s)")
    text = f"""SELECT id, at, actor_id, actor_email, action, entity, entity_id, before, after, source_ip
               FROM audit_log {"WHERE " + " AND ".join(where) if where else ""}
               ORDER BY at DESC, id DESC LIMIT %(limit)s"""
    with db.transaction() as conn:
        rows = conn.execute(text, params).fetchall()
    result = page(rows, query.limit, lambda r: [r["at"], r["id"]])
    result["items"] = [public(r) for r in result["items"]]
    return result


# --- second factors, role policies, unlocking --------------------------------------------------------


class RolePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    two_factor_required: bool


class Unlock(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: str | None = Field(
        None,
        min_length=3,
        max_length=320,
        description="the account's failures (from every address, or from source_ip)",
    )
    source_ip: str | None = Field(
        None, max_length=64, description="the address's failures (for every account, or for email)"
    )

    @field_validator("source_ip")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else str(ipaddress.ip_address(value))

    @model_validator(mode="after")
    def _something(self):
        if self.email is None and self.source_ip is None:
            raise ValueError("name an email, a source_ip or both")
        return self


class SelfTwoFactorReset(Conflict):
    code = "self_two_factor_reset"
    message = "You cannot reset your own second factor: another admin does it for you."


def reset_two_factor(db: Database, admin_id: uuid.UUID, actor: dict) -> dict:
    """Another admin's second factor off (a lost phone): secret, pending enrolment and recovery codes
    go, their sessions end; they sign in with their password (and enrol again if their role says)."""
    if admin_id == actor["id"]:
        raise SelfTwoFactorReset()
    with db.transaction() as conn:
        before = conn.execute("SELECT * FROM admin_users WHERE id = %s FOR UPDATE", (admin_id,)).fetchone()
        if before is None:
            raise AdminNotFound()
        after = one(
            conn.execute(
                """UPDATE admin_users SET totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL,
                   totp_last_step = 0, updated_at = now(), session_generation = session_generation + 1
               WHERE id = %s RETURNING *""",
                (admin_id,),
            )
        )
        codes = conn.execute("DELETE FROM recovery_codes WHERE admin_id = %s", (admin_id,)).rowcount
        audit.record(
            conn,
            action="two_factor_reset",
            entity="admin_user",
            entity_id=admin_id,
            actor=actor,
            before={"two_factor_enabled": before["totp_enabled_at"] is not None},
            after={"two_factor_enabled": False, "recovery_codes_removed": codes, "sessions_ended": True},
        )
    return _shown(after)


def role_policies(db: Database) -> dict:
    with db.transaction() as conn:
        rows = conn.execute("SELECT role, two_factor_required FROM role_policies ORDER BY role").fetchall()
    return {"items": rows}


class EnrolFirst(Conflict):
    code = "enrol_first"
    message = (
        "Enrol your own second factor before requiring one for your role: "
        "your sessions would reach nothing but the enrolment."
    )


def set_role_policy(db: Database, data: RolePolicy, actor: dict) -> dict:
    if data.two_factor_required and data.role == actor["role"] and actor["totp_enabled_at"] is None:
        raise EnrolFirst()
    with db.transaction() as conn:
        before = conn.execute(
            "SELECT two_factor_required FROM role_policies WHERE role = %s FOR UPDATE", (data.role,)
        ).fetchone()
        conn.execute(
            """UPDATE role_policies SET two_factor_required = %s, updated_at = now()
                        WHERE role = %s""",
            (data.two_factor_required, data.role),
        )
        audit.record(
            conn,
            action="role_policy",
            entity="role",
            entity_id=data.role,
            actor=actor,
            before=before,
            after={"two_factor_required": data.two_factor_required},
        )
    return role_policies(db)


def unlock(db: Database, settings: Settings, data: Unlock, actor: dict) -> dict:
    """Clear recorded login failures of an account, an address, or an account from one address:
    the limits count from nothing again (successes are kept; they only end counting)."""
    where, params, shown = ["NOT succeeded"], [], {}
    account = None
    if data.email is not None:
        email = data.email.lower()
        where.append("account_key = %s")
        params.append(account_key(settings, email))
    if data.source_ip is not None:
        where.append("source_ip = %s")
        params.append(data.source_ip)
        shown["source_ip"] = data.source_ip
    with db.transaction() as conn:
        if data.email is not None:
            account = conn.execute("SELECT id, email FROM admin_users WHERE email = %s", (email,)).fetchone()
            shown.update({"email": account["email"]} if account else {"email_key": params[0]})
        cleared = conn.execute(f"DELETE FROM login_attempts WHERE {' AND '.join(where)}", params).rowcount
        audit.record(
            conn,
            action="unlock",
            entity="admin_user" if account else "login_attempts",
            entity_id=account["id"] if account else None,
            actor=actor,
            after={**shown, "failures_cleared": cleared},
        )
    return {"cleared": cleared, **shown}


# --- the `seed-admin` command: the same rules as POST /admin/users ----------------------------------

SEEDED_BY = "seed-admin"  # in the audit rows of changes made by the command (no actor: no session)


def create_or_update_admin(
    db: Database, email: str, password: str, *, role: str = "admin", cost: int = 12
) -> tuple[dict, str]:
    """Create the admin, or bring an existing one to this password and role (active). Returns (admin,
    "created" | "updated" | "unchanged"). The email, password and role are checked by AdminCreate, as
    POST /admin/users checks them (before hashing: the database's CHECK error would print the row, hash
    included). The same password and role again change nothing: no new hash, no new version, sessions
    kept (`angebae local` re-seeds its dev admin at every start); a new password ends the account's
    sessions. Each change is audited (no actor: the row says `via: seed-admin`)."""
    try:
        data = AdminCreate(email=email.strip(), password=password, role=role)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        raise ValidationFailed(f"The {field} {problem['input']!r} is not valid: {problem['msg']}.") from None
    email = data.email.lower()
    with db.transaction() as conn:
        before = conn.execute("SELECT * FROM admin_users WHERE email = %s FOR UPDATE", (email,)).fetchone()
        if before is None:
            row = conn.execute(
                """INSERT INTO admin_users (email, password_hash, role) VALUES (%s, %s, %s)
                                  ON CONFLICT (email) DO NOTHING RETURNING *""",
                (email, checked_hash(data.password, email, cost), data.role),
            ).fetchone()
            if row is None:  # created by another seed-admin meanwhile: a conflict, as for POST /admin/users
                raise EmailTaken(details={"email": email})
            audit.record(
                conn,
                action="create",
                entity="admin_user",
                entity_id=row["id"],
                after={**_shown(row), "via": SEEDED_BY},
            )
            return row, "created"
        changes: dict[str, Any] = {
            k: v for k, v in (("role", data.role), ("is_active", True)) if before[k] != v
        }
        if not verify_password(data.password, before["password_hash"]):
            changes["password_hash"] = checked_hash(data.password, email, cost)
            changes["session_generation"] = before["session_generation"] + 1  # old sessions end
        if not changes:
            return before, "unchanged"
        after = update_columns(conn, "admin_users", before["id"], changes, bump_version=True)
        if after is None:  # locked above: never
            raise AdminNotFound()
        old, new = diff(_shown(before), _shown(after))
        if "password_hash" in changes:
            new["password_changed"] = True
        audit.record(
            conn,
            action="update",
            entity="admin_user",
            entity_id=before["id"],
            before=old,
            after={**new, "via": SEEDED_BY},
        )
    return after, "updated"


def seed_admin(database_url: str, email: str, password: str, role: str = "admin", cost: int = 12) -> str:
    """Idempotent: "created", "updated" (password, role or active flag changed) or "unchanged"."""
    db = Database(database_url, application_name="angebae-cli")
    try:
        return create_or_update_admin(db, email, password, role=role, cost=cost)[1]
    finally:
        db.close()
