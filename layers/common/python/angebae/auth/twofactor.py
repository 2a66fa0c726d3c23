"""Two-factor sign-in: TOTP codes (RFC 6238, through pyotp), their encrypted secrets, recovery codes.

The secret is stored encrypted with AES-256-GCM (`cryptography`) under a key derived (HKDF-SHA256)
from TOTP_ENCRYPTION_KEY, a secret of the same store as the JWT key; the admin's id is the associated
data, so a ciphertext copied to another row does not decrypt. A code is accepted for the current
30-second step or the one before or after (clock drift), and only for a step later than the last
accepted one (`admin_users.totp_last_step`), so each code is used once. Recovery codes are 79 random
bits each: a SHA-256 of them (with the admin's id) is kept, enough against guessing at that entropy
and cheap to check, where bcrypt would cost 0.3 s per stored code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import uuid
from datetime import UTC, datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from angebae.errors import ServiceUnavailable

ISSUER = "Angebae"
RECOVERY_CODES = 10
DRIFT_STEPS = 1  # a code of the step before or after the current one is accepted too
_CIPHER_PREFIX = "v1:"
_TOTP_CODE = re.compile(r"^\d{6}$")
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


class SecretUnreadable(ServiceUnavailable):
    """A stored secret that the configured key does not decrypt (another key, a copied row)."""

    code = "two_factor_key_mismatch"
    message = "The account's second factor cannot be read with the configured TOTP_ENCRYPTION_KEY."


def _key(encryption_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"angebae-totp-secret-v1").derive(
        encryption_key.encode()
    )


def encrypt_secret(encryption_key: str, admin_id: uuid.UUID, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(encryption_key)).encrypt(nonce, secret.encode(), admin_id.bytes)
    return _CIPHER_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(encryption_key: str, admin_id: uuid.UUID, stored: str) -> str:
    if not stored.startswith(_CIPHER_PREFIX):
        raise SecretUnreadable()
    raw = base64.b64decode(stored[len(_CIPHER_PREFIX) :])
    try:
        return AESGCM(_key(encryption_key)).decrypt(raw[:12], raw[12:], admin_id.bytes).decode()
    except InvalidTag:
        raise SecretUnreadable() from None


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def is_totp_code(code: str) -> bool:
    return bool(_TOTP_CODE.match(code))


def matching_step(secret: str, code: str, at: datetime | None = None) -> int | None:
    """The time step whose code this is (the current one, or one step of drift), else None."""
    if not is_totp_code(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at or datetime.now(UTC))
    for step in (current, current - DRIFT_STEPS, current + DRIFT_STEPS):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of 16 characters (80 bits), shown as four groups: `abcd-efgh-jkmn-pqrs`."""
    codes = []
    for _ in range(RECOVERY_CODES):
        text = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(text[i : i + 4] for i in range(0, 16, 4)))
    return codes


def recovery_hash(admin_id: uuid.UUID, code: str) -> str:
    normalized = re.sub(r"[\s-]", "", code).lower()
    return hashlib.sha256(b"angebae-recovery\0" + admin_id.bytes + normalized.encode()).hexdigest()
