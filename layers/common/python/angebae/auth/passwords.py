"""Password hashing: bcrypt `$2b$` over an HMAC-SHA384 pre-hash.

bcrypt reads at most 72 bytes and bcrypt 5 raises ValueError beyond that. Pre-hashing with
HMAC-SHA384 and base64 (64 ASCII bytes, no NUL) lets any length and any script count in full. The HMAC
key is a fixed, public label (not a pepper): rotating a secret must never invalidate every password.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

import bcrypt

from angebae.errors import ValidationFailed

_PREHASH_KEY = b"angebae-password-v1"
MIN_LENGTH = 12
MAX_LENGTH = 1024  # characters; beyond this nobody types a password, and hashing stays cheap


def _prehash(password: str) -> bytes:
    digest = hmac.new(_PREHASH_KEY, password.encode("utf-8"), hashlib.sha384).digest()
    return base64.b64encode(digest)


def hash_password(password: str, cost: int = 12) -> str:
    if cost < 10:
        raise ValueError("bcrypt cost must be at least 10")
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=cost)).decode("ascii")


def verify_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


@functools.cache
def dummy_hash(cost: int) -> str:
    """Verified against when the email is unknown, so the reply takes as long as for a real one."""
    return hash_password("angebae-dummy-password-never-matches", cost)


POLICY = (
    f"A password has {MIN_LENGTH} to {MAX_LENGTH} characters, at least 5 of them different, "
    "does not contain the name of its account's email (the part before @) and is not a "
    "well-known password."
)


def weakness(password: str, email: str = "") -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if len(set(password)) < 5:
        return "uses too few different characters"
    lowered = password.lower()
    if email and email.split("@")[0].lower() in lowered:
        return "must not contain the email's name"
    if lowered in {"password1234", "123456789012", "qwertyuiopas", "changeme1234"}:
        return "is a well-known password"
    return None


def checked_hash(password: str, email: str, cost: int, field: str = "password") -> str:
    """The hash of an acceptable new password; 400 naming the problem and the whole policy."""
    problem = weakness(password, email)
    if problem:
        raise ValidationFailed(
            f"The password {problem}. {POLICY}",
            details={"fields": [{"field": field, "problem": problem}], "policy": POLICY},
        )
    return hash_password(password, cost)
