"""What a signed-in user does to their own account: change their password, enrol a second factor.

Each proof (the current password, a first code) is an attempt counted by the same limits as login
(`sessions.begin_attempt`). A success that changes how the account signs in (a new password, a second
factor) bumps the session generation, which ends every session of the account, and issues a new
session to the caller: their other sessions end, this one goes on.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from angebae import audit
from angebae.auth import sessions, twofactor
from angebae.auth.passwords import MAX_LENGTH, checked_hash, verify_password
from angebae.db import Database, one
from angebae.errors import BadRequest, Conflict, Forbidden
from angebae.settings import Settings

Password = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # no stripping: a password's spaces count


class PasswordChange(Strict):
    current_password: Password
    new_password: Password


class PasswordProof(Strict):
    password: Password


class CodeProof(Strict):
    code: Annotated[
        str,
        Field(
            min_length=6,
            max_length=6,
            pattern=r"^\d{6}$",
            description="the 6-digit code the authenticator app shows",
        ),
    ]


class WrongPassword(Forbidden):
    code, message = "wrong_password", "The current password is incorrect."


class WrongFirstCode(BadRequest):
    # 400, not login's 401: the caller is signed in, and a client must not take it for a lost session.
    code, message = "invalid_code", "The code is not valid: check the app's clock and try the next code."


class TwoFactorEnabled(Conflict):
    code, message = "two_factor_enabled", "Two-factor sign-in is already on for this account."


class NoEnrolment(Conflict):
    code, message = "no_enrolment", "Start the enrolment first (POST /admin/me/two-factor)."


def _prove_password(
    db: Database, settings: Settings, admin: dict, password: str, source_ip: str, action: str
) -> sessions.Attempt:
    attempt = sessions.begin_attempt(db, settings, admin["email"], source_ip)
    if attempt.admin is None:  # deleted (or renamed) since the request's session was checked
        raise sessions.InvalidSession()
    if not verify_password(password, attempt.admin["password_hash"]):
        with db.transaction() as conn:
            audit.record(
                conn,
                action=f"{action}_failed",
                entity="admin_user",
                entity_id=admin["id"],
                actor=admin,
                source_ip=source_ip,
                after={"reason": WrongPassword.code},
            )
        raise WrongPassword()
    return attempt


def change_password(
    db: Database, settings: Settings, admin: dict, data: PasswordChange, source_ip: str
) -> sessions.Session:
    new_hash = checked_hash(data.new_password, admin["email"], settings.bcrypt_cost, "new_password")
    attempt = _prove_password(db, settings, admin, data.current_password, source_ip, "password_change")
    with db.transaction() as conn:
        sessions.succeed(conn, attempt)
        row = one(
            conn.execute(
                """UPDATE admin_users SET password_hash = %s, updated_at = now(),
                                      session_generation = session_generation + 1
                                  WHERE id = %s RETURNING *""",
                (new_hash, admin["id"]),
            )
        )
        audit.record(
            conn,
            action="password_change",
            entity="admin_user",
            entity_id=admin["id"],
            actor=admin,
            source_ip=source_ip,
            after={"other_sessions_ended": True},
        )
    return sessions.issue_session(settings, row)


def start_enrolment(
    db: Database, settings: Settings, admin: dict, data: PasswordProof, source_ip: str
) -> dict:
    """A new secret, kept encrypted as pending and shown this once (a new start replaces it)."""
    if admin["totp_enabled_at"] is not None:
        raise TwoFactorEnabled()
    key = settings.require("totp_encryption_key")
    attempt = _prove_password(db, settings, admin, data.password, source_ip, "two_factor_enrolment")
    secret = twofactor.new_secret()
    with db.transaction() as conn:
        sessions.succeed(conn, attempt)
        conn.execute(
            "UPDATE admin_users SET totp_pending = %s, updated_at = now() WHERE id = %s",
            (twofactor.encrypt_secret(key, admin["id"], secret), admin["id"]),
        )
        audit.record(
            conn,
            action="two_factor_enrolment_started",
            entity="admin_user",
            entity_id=admin["id"],
            actor=admin,
            source_ip=source_ip,
        )
    return {
        "otpauth_uri": twofactor.provisioning_uri(secret, admin["email"]),
        "secret": secret,
        "issuer": twofactor.ISSUER,
        "digits": 6,
        "period": 30,
    }


def confirm_enrolment(
    db: Database, settings: Settings, admin: dict, data: CodeProof, source_ip: str
) -> tuple[sessions.Session, list[str]]:
    """The first code turns two-factor sign-in on: ten recovery codes (shown once, kept hashed), the
    account's other sessions end (they were signed in with one factor), the caller gets a new one."""
    key = settings.require("totp_encryption_key")
    attempt = sessions.begin_attempt(db, settings, admin["email"], source_ip)
    codes = twofactor.new_recovery_codes()
    failure = None
    with db.transaction() as conn:
        row = conn.execute("SELECT * FROM admin_users WHERE id = %s FOR UPDATE", (admin["id"],)).fetchone()
        if row is None:  # deleted since the request's session was checked
            raise sessions.InvalidSession()
        if row["totp_enabled_at"] is not None:
            raise TwoFactorEnabled()
        if row["totp_pending"] is None:
            raise NoEnrolment()
        step = twofactor.matching_step(
            twofactor.decrypt_secret(key, row["id"], row["totp_pending"]), data.code
        )
        if step is None:
            failure = WrongFirstCode()
            audit.record(
                conn,
                action="two_factor_enrolment_failed",
                entity="admin_user",
                entity_id=admin["id"],
                actor=admin,
                source_ip=source_ip,
                after={"reason": failure.code},
            )
        else:
            sessions.succeed(conn, attempt)
            row = one(
                conn.execute(
                    """UPDATE admin_users SET totp_secret = totp_pending, totp_pending = NULL,
                       totp_enabled_at = now(), totp_last_step = %s, updated_at = now(),
                       session_generation = session_generation + 1
                   WHERE id = %s RETURNING *""",
                    (step, admin["id"]),
                )
            )
            conn.execute("DELETE FROM recovery_codes WHERE admin_id = %s", (admin["id"],))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO recovery_codes (admin_id, code_hash) VALUES (%s, %s)",
                    [(admin["id"], twofactor.recovery_hash(admin["id"], c)) for c in codes],
                )
            audit.record(
                conn,
                action="two_factor_enabled",
                entity="admin_user",
                entity_id=admin["id"],
                actor=admin,
                source_ip=source_ip,
                after={"recovery_codes": len(codes), "other_sessions_ended": True},
            )
    if failure is not None:
        raise failure
    return sessions.issue_session(settings, row), codes


def two_factor_status(admin: dict) -> dict:
    return {
        "enabled": admin["totp_enabled_at"] is not None,
        "required": bool(admin.get("two_factor_required")),
    }
