"""Admin sessions: login with rate limits, JWT issue/verify, the denylist, and the current admin.

Tokens are HS256 JWTs with a pinned algorithm list and every registered claim required. They travel in
an HttpOnly, Secure, SameSite=Strict cookie (or an `Authorization: Bearer` header for API clients).
Every request re-reads the admin row, so a deactivated admin loses access at once, and a token
whose session generation (claim `gen`) is older than the row's (bumped by a password change or a
deactivation) is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from angebae import audit
from angebae.auth import twofactor
from angebae.auth.passwords import dummy_hash, verify_password
from angebae.db import Database, one
from angebae.errors import AppError, Forbidden, InvalidCredentials, TooManyRequests, Unauthorized
from angebae.settings import Settings

ALGORITHM = "HS256"
LEEWAY_SECONDS = 10
ROLES = ("viewer", "editor", "admin")  # each includes the rights of those before it
# Per address, failures across accounts may go this many times the per-account limit (password spraying).
_IP_FACTOR = 4
_LOCK_ACCOUNT, _LOCK_ADDRESS = 0x616E6701, 0x616E6702  # advisory lock classes: login attempts
MAX_TOKEN_CHARS = 4096  # ours are about 400; a cookie cannot hold more than 4 KB anyway
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds


class InvalidSession(Unauthorized):
    message = "The session is invalid or has expired."


class TwoFactorRequired(Unauthorized):
    code = "two_factor_required"
    message = "This account signs in with two factors: send the code of your authenticator app as `code`."


class InvalidCode(Unauthorized):
    code, message = "invalid_code", "The code is not valid."


class TwoFactorSetupRequired(Forbidden):
    code = "two_factor_setup_required"
    message = "Your role requires two-factor sign-in: enrol first (POST /admin/me/two-factor)."


@dataclass(frozen=True)
class Session:
    token: str
    jti: uuid.UUID
    expires_at: datetime
    admin: dict


def cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain.
    return "__Host-angebae_session" if settings.cookie_secure else "angebae_session"


def session_cookie(settings: Settings, token: str) -> str:
    return _cookie(settings, token, settings.token_ttl_seconds)


def cleared_cookie(settings: Settings) -> str:
    return _cookie(settings, "", 0)


def _cookie(settings: Settings, value: str, max_age: int) -> str:
    parts = [
        f"{cookie_name(settings)}={value}",
        "Path=/",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if settings.cookie_secure:
        parts.append("Secure")
    return "; ".join(parts)


def public_admin(row: dict) -> dict:
    shown = {
        k: row[k] for k in ("id", "email", "role", "is_active", "version", "created_at", "last_login_at")
    }
    shown["two_factor_enabled"] = row.get("totp_enabled_at") is not None
    return shown


# --- login -----------------------------------------------------------------------------------------


def account_key(settings: Settings, email: str) -> str:
    """What a login attempt is counted and audited under: a keyed hash of the email as typed (after
    trimming and lower-casing). Someone may type a password in the email field; the key tells the
    same attempts apart without keeping what was typed (and cannot be reversed without the key)."""
    message = b"login-email\0" + email.strip().lower().encode()
    digest = hmac.new(settings.require("jwt_secret").encode(), message, hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt, recorded as failed until `succeed` marks it (login, a code, a password)."""

    id: int
    key: str
    admin: dict | None  # the account's row, read under the attempt's locks


def begin_attempt(db: Database, settings: Settings, email: str, source_ip: str) -> Attempt:
    """Check the limits and record the attempt in one step, serialised per account and per address:
    concurrent guesses cannot all pass the check before any is counted (429 past the limits). Every
    check of a password or a code goes through here, so they all share the same limits."""
    email = email.strip().lower()
    key = account_key(settings, email)
    with db.transaction() as conn:
        # Locks are always taken account first, so they cannot deadlock.
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_ACCOUNT, email))
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_ADDRESS, source_ip))
        _refuse_when_limited(conn, settings, key, source_ip)
        attempt = one(
            conn.execute(
                """INSERT INTO login_attempts (account_key, source_ip, succeeded)
                                      VALUES (%s, %s, false) RETURNING id""",
                (key, source_ip),
            )
        )
        admin = conn.execute("SELECT * FROM admin_users WHERE email = %s", (email,)).fetchone()
        # Attempts older than the window (and a day) count for nothing: each attempt sweeps a few.
        conn.execute(
            """DELETE FROM login_attempts WHERE id IN (
                            SELECT id FROM login_attempts
                            WHERE attempted_at < now() - make_interval(secs => greatest(86400, %s))
                            ORDER BY attempted_at LIMIT 50)""",
            (settings.login_window_seconds,),
        )
    return Attempt(attempt["id"], key, admin)


def succeed(conn, attempt: Attempt) -> None:
    conn.execute("UPDATE login_attempts SET succeeded = true WHERE id = %s", (attempt.id,))


def login(
    db: Database, settings: Settings, email: str, password: str, source_ip: str, code: str | None = None
) -> Session:
    """Password, then the second factor when the account has one (a TOTP code or a recovery code):
    a missing or wrong code is a failed attempt like a wrong password."""
    attempt = begin_attempt(db, settings, email, source_ip)
    admin = attempt.admin
    # bcrypt runs for unknown emails too, against a dummy hash: same answer, similar time. The dummy
    # is made (once per process, one more bcrypt) whatever the email, so a cold start tells nothing.
    dummy = dummy_hash(settings.bcrypt_cost)
    matches = verify_password(password, admin["password_hash"] if admin else dummy)
    failure: AppError | None = None if admin and matches and admin["is_active"] else InvalidCredentials()
    second = None
    with db.transaction() as conn:
        if failure is None and admin is not None and admin["totp_enabled_at"] is not None:
            try:
                second = use_second_factor(conn, settings, admin, code)
            except (TwoFactorRequired, InvalidCode) as exc:
                failure = exc
        if failure is not None:  # the account's own email when there is one, else only the key
            identity = {"email": admin["email"]} if admin else {"email_key": attempt.key}
            audit.record(
                conn,
                action="login_failed",
                entity="admin_user",
                entity_id=admin["id"] if admin else None,
                source_ip=source_ip,
                after={**identity, "reason": failure.code},
            )
        else:
            assert admin is not None  # no failure: the account was found
            succeed(conn, attempt)
            admin = one(
                conn.execute(
                    """UPDATE admin_users a SET last_login_at = now() WHERE id = %s
                   RETURNING a.*, coalesce((SELECT two_factor_required FROM role_policies p
                                            WHERE p.role = a.role), false) AS two_factor_required""",
                    (admin["id"],),
                )
            )
            audit.record(
                conn,
                action="login",
                entity="admin_user",
                entity_id=admin["id"],
                actor=admin,
                source_ip=source_ip,
                after={"second_factor": second} if second else None,
            )
    if failure is not None:
        raise failure
    assert admin is not None  # signed in: the account's updated row
    return issue_session(settings, admin)


def use_second_factor(conn, settings: Settings, admin: dict, code: str | None) -> str:
    """'totp' or 'recovery_code' when `code` is one the account may use now, and uses it up."""
    code = (code or "").strip()
    if not code:
        raise TwoFactorRequired()
    if twofactor.is_totp_code(code):
        secret = twofactor.decrypt_secret(
            settings.require("totp_encryption_key"), admin["id"], admin["totp_secret"]
        )
        step = twofactor.matching_step(secret, code)
        if step is None:
            raise InvalidCode()
        # Only a later step than the last accepted one: a code is used once, even by two requests at once.
        if (
            conn.execute(
                """UPDATE admin_users SET totp_last_step = %s
                           WHERE id = %s AND totp_last_step < %s RETURNING id""",
                (step, admin["id"], step),
            ).fetchone()
            is None
        ):
            raise InvalidCode("This code was already used: wait for the next one.")
        return "totp"
    if (
        conn.execute(
            """UPDATE recovery_codes SET used_at = now()
                       WHERE admin_id = %s AND code_hash = %s AND used_at IS NULL RETURNING 1""",
            (admin["id"], twofactor.recovery_hash(admin["id"], code)),
        ).fetchone()
        is None
    ):
        raise InvalidCode()
    return "recovery_code"


def _refuse_when_limited(conn, settings: Settings, key: str, source_ip: str) -> None:
    """429 while an account (from this address) or an address has too many recent failures.

    Failures count since the account's last success and within the window; attempts refused here are
    not recorded, so a lock always ends one window after the last counted failure: a flood cannot lock
    an account forever, and it locks only the (account, address) pair, not the real user elsewhere.
    """
    row = conn.execute(
        """
        WITH recent AS (
            SELECT account_key, source_ip, attempted_at FROM login_attempts
            WHERE NOT succeeded AND attempted_at > now() - make_interval(secs => %(window)s)
              AND (account_key = %(key)s OR source_ip = %(ip)s)
              AND attempted_at > coalesce((SELECT max(attempted_at) FROM login_attempts
                                           WHERE succeeded AND account_key = %(key)s), '-infinity')
        )
        SELECT count(*) FILTER (WHERE account_key = %(key)s AND source_ip = %(ip)s) AS pair,
               min(attempted_at) FILTER (WHERE account_key = %(key)s AND source_ip = %(ip)s) AS pair_oldest,
               count(*) FILTER (WHERE source_ip = %(ip)s) AS by_ip,
               min(attempted_at) FILTER (WHERE source_ip = %(ip)s) AS ip_oldest,
               now() AS now
        FROM recent
        """,
        {"window": settings.login_window_seconds, "key": key, "ip": source_ip},
    ).fetchone()
    window = timedelta(seconds=settings.login_window_seconds)
    for count, oldest, limit in (
        (row["pair"], row["pair_oldest"], settings.login_max_failures),
        (row["by_ip"], row["ip_oldest"], settings.login_max_failures * _IP_FACTOR),
    ):
        if count >= limit:
            retry_after = math.ceil((oldest + window - row["now"]).total_seconds())
            raise TooManyRequests(retry_after)


# --- tokens ----------------------------------------------------------------------------------------


def issue_session(settings: Settings, admin: dict) -> Session:
    now = datetime.now(UTC)
    jti = uuid.uuid4()
    expires = now + timedelta(seconds=settings.token_ttl_seconds)
    claims = {
        "sub": str(admin["id"]),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": str(jti),
        "role": admin["role"],
        "gen": admin["session_generation"],
    }
    token = jwt.encode(claims, settings.require("jwt_secret"), algorithm=ALGORITHM)
    return Session(token=token, jti=jti, expires_at=expires, admin=admin)


def decode_token(settings: Settings, token: str) -> dict:
    """The token's claims, checked: signature, issuer, audience, time and the claims' own types.

    PyJWT takes `exp` "1796167674", 1e308 or 10**19 and `iat` true or 1.5 (it only calls int() on
    them): a claim this code reads later must be of the type it issues, else the session is invalid.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidSession()
    try:
        claims = jwt.decode(
            token,
            settings.require("jwt_secret"),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
    except (jwt.PyJWTError, RecursionError):
        raise InvalidSession() from None
    if not (
        _timestamp(claims["iat"])
        and _timestamp(claims["exp"])
        and isinstance(claims["sub"], str)
        and isinstance(claims["jti"], str)
    ):
        raise InvalidSession()
    return claims


def _timestamp(value) -> bool:
    """An integer number of seconds a datetime can hold (bool is an int in Python: refused)."""
    return type(value) is int and 0 <= value <= _MAX_TIMESTAMP


def token_from_request(settings: Settings, request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookies = request.headers.get("cookie") or ""
    wanted = cookie_name(settings)
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name == wanted and value:
            return value
    return None


def current_admin(
    db: Database, settings: Settings, request, *, role: str = "viewer", setup_ok: bool = False
) -> dict:
    """The signed-in admin, checked against the denylist and the live admin row; 401/403 otherwise.
    An account whose role requires two-factor sign-in and has not enrolled yet may only reach the
    routes that let it enrol (`setup_ok`): 403 two_factor_setup_required elsewhere."""
    token = token_from_request(settings, request)
    if not token:
        raise Unauthorized()
    claims = decode_token(settings, token)
    try:
        jti, admin_id = uuid.UUID(claims["jti"]), uuid.UUID(claims["sub"])
    except (ValueError, TypeError):
        raise InvalidSession() from None
    with db.transaction() as conn:
        row = conn.execute(
            """SELECT a.*, EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = %s) AS revoked,
                      coalesce(p.two_factor_required, false) AS two_factor_required
               FROM admin_users a LEFT JOIN role_policies p ON p.role = a.role WHERE a.id = %s""",
            (jti, admin_id),
        ).fetchone()
    if (
        row is None
        or row["revoked"]
        or not row["is_active"]
        or claims.get("gen") != row["session_generation"]
    ):
        raise InvalidSession()
    if ROLES.index(row["role"]) < ROLES.index(role):
        raise Forbidden()
    if row["two_factor_required"] and row["totp_enabled_at"] is None and not setup_ok:
        raise TwoFactorSetupRequired()
    row["jti"], row["token_expires_at"] = jti, datetime.fromtimestamp(claims["exp"], UTC)
    return row


def logout(db: Database, admin: dict, source_ip: str) -> None:
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO revoked_tokens (jti, admin_id, expires_at) VALUES (%s, %s, %s)
               ON CONFLICT (jti) DO NOTHING""",
            (admin["jti"], admin["id"], admin["token_expires_at"]),
        )
        # Expired denylist rows can go: their tokens fail on `exp` anyway.
        conn.execute("DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 minute'")
        audit.record(
            conn,
            action="logout",
            entity="admin_user",
            entity_id=admin["id"],
            actor=admin,
            source_ip=source_ip,
        )
