"""angebae.auth.twofactor: the stored secret's encryption, which step a code belongs to, recovery codes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from angebae.auth import twofactor

KEY = "unit-test-totp-key-" + "k" * 40
AT = datetime(2026, 12, 2, 12, 0, 15, tzinfo=UTC)


def test_a_secret_decrypts_only_with_its_key_and_for_its_admin():
    admin, other = uuid.uuid4(), uuid.uuid4()
    stored = twofactor.encrypt_secret(KEY, admin, "JBSWY3DPEHPK3PXP")
    assert stored.startswith("v1:") and "JBSWY3DPEHPK3PXP" not in stored
    assert twofactor.decrypt_secret(KEY, admin, stored) == "JBSWY3DPEHPK3PXP"
    assert twofactor.encrypt_secret(KEY, admin, "JBSWY3DPEHPK3PXP") != stored  # a fresh nonce each time
    for key, owner, value in ((KEY + "x", admin, stored), (KEY, other, stored), (KEY, admin, "plain")):
        with pytest.raises(twofactor.SecretUnreadable):
            twofactor.decrypt_secret(key, owner, value)


def test_a_code_names_its_step_with_one_step_of_drift_either_way():
    secret = twofactor.new_secret()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(AT)
    assert twofactor.matching_step(secret, totp.at(AT), AT) == step
    assert twofactor.matching_step(secret, totp.at(AT - timedelta(seconds=30)), AT) == step - 1
    assert twofactor.matching_step(secret, totp.at(AT + timedelta(seconds=30)), AT) == step + 1
    assert twofactor.matching_step(secret, totp.at(AT - timedelta(seconds=60)), AT) in (None, step, step - 1)
    assert twofactor.matching_step(secret, "12345", AT) is None
    assert twofactor.matching_step(secret, "abcdef", AT) is None


def test_the_provisioning_uri_is_an_otpauth_uri_an_app_reads_back():
    secret = twofactor.new_secret()
    uri = twofactor.provisioning_uri(secret, "ana@example.com")
    assert uri.startswith("otpauth://totp/Angebae:ana%40example.com?")
    assert pyotp.parse_uri(uri).secret == secret and len(secret) == 32


def test_recovery_codes_are_ten_distinct_and_hashed_per_admin_as_typed_any_way():
    codes = twofactor.new_recovery_codes()
    assert len(set(codes)) == 10 and all(len(c) == 19 and c.count("-") == 3 for c in codes)
    admin = uuid.uuid4()
    digest = twofactor.recovery_hash(admin, codes[0])
    assert twofactor.recovery_hash(admin, codes[0].upper().replace("-", " ")) == digest
    assert twofactor.recovery_hash(uuid.uuid4(), codes[0]) != digest
    assert codes[0] not in digest
