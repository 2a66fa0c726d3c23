"""../shared/RELIABILITY.md 1-11: login, sessions and logout against a real PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from angebae.auth.admins import create_or_update_admin
from angebae.auth.passwords import hash_password, verify_password
from angebae.db import Database
from angebae.settings import ConfigurationError, Settings
from support import call, load_function, rest_event, set_cookies

EMAIL = "ana@example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(env):
    db = Database(env["DATABASE_URL"])
    row, _ = create_or_update_admin(db, EMAIL, PASSWORD, cost=10)
    db.close()
    return row


@pytest.fixture
def login_fn(env):
    return load_function("login")


def do_login(fn, email=EMAIL, password=PASSWORD, ip="203.0.113.7"):
    return call(
        fn, rest_event("POST", "/admin/login", body={"email": email, "password": password}, source_ip=ip)
    )


def cookie_header(response) -> str:
    return set_cookies(response)[0].split(";")[0]


def me(fn, headers):
    return call(fn, rest_event("GET", "/admin/me", headers=headers))


# 1. bcrypt $2b$, cost 12 by default, never below 10


def test_passwords_are_stored_as_bcrypt_2b_with_cost_12_by_default():
    assert hash_password("a long enough password").startswith("$2b$12$")
    assert Settings(database_url="x").bcrypt_cost == 12


def test_a_bcrypt_cost_below_10_is_refused_at_start_up():
    with pytest.raises(ConfigurationError, match="BCRYPT_COST"):
        Settings.from_env({"DATABASE_URL": "x", "BCRYPT_COST": "9"})


# 2. long and multibyte passwords: never a 500, never silently cut


@pytest.mark.parametrize("length", [71, 72, 73, 200])
def test_passwords_around_bcrypts_72_byte_limit_count_in_full(length):
    password = "p" * length
    hashed = hash_password(password, 10)
    assert verify_password(password, hashed)
    assert not verify_password(password[:-1], hashed)  # the last byte matters
    assert not verify_password(password + "p", hashed)


def test_sixty_four_emoji_hash_and_verify_in_full():
    password = "😀" * 64  # 256 bytes of UTF-8
    hashed = hash_password(password, 10)
    assert verify_password(password, hashed)
    assert not verify_password("😀" * 63 + "😁", hashed)


@pytest.mark.parametrize("password", ["x" * 73, "😀" * 64, "p" * 72])
def test_a_wrong_long_password_at_login_is_401_not_500(admin, login_fn, password):
    response = do_login(login_fn, password=password)
    assert response["statusCode"] == 401
    assert response["json"]["error"]["code"] == "invalid_credentials"


def test_a_long_password_that_is_right_logs_in(env, login_fn):
    password = "contraseña-" + "ñandú😀🎉" * 15  # 180+ bytes
    create_or_update_admin(Database(env["DATABASE_URL"]), "long@example.com", password, cost=10)
    assert do_login(login_fn, "long@example.com", password)["statusCode"] == 200


# 3. unknown email: same status, same body, similar time


def test_unknown_email_gets_the_same_answer_as_a_wrong_password_in_similar_time(admin, login_fn):
    do_login(login_fn, email="warm-up@example.com")  # a warm process (the cold start is tested below)

    def timed(**credentials):
        started = time.perf_counter()
        answer = do_login(login_fn, password="not the password at all", **credentials)
        return answer, time.perf_counter() - started

    # three of each, in turns; the fastest of each is compared, so a busy machine's pauses drop out
    samples = [(timed(), timed(email="nobody@example.com")) for _ in range(3)]
    wrong_password, unknown = samples[0][0][0], samples[0][1][0]
    t_known = min(known[1] for known, _ in samples)
    t_unknown = min(other[1] for _, other in samples)
    assert wrong_password["statusCode"] == unknown["statusCode"] == 401
    assert wrong_password["body"] == unknown["body"]
    # both ran one bcrypt verify (~75 ms at cost 10): neither is a fast path
    assert t_unknown > 0.5 * t_known and t_known > 0.5 * t_unknown


def test_the_first_login_after_a_cold_start_takes_as_long_for_an_unknown_email(admin, login_fn):
    from angebae.auth.passwords import dummy_hash

    def first_login_seconds(email):  # a fresh process: no dummy hash made yet
        dummy_hash.cache_clear()
        started = time.perf_counter()
        assert do_login(login_fn, email=email, password="not the password at all")["statusCode"] == 401
        return time.perf_counter() - started

    t_known = min(first_login_seconds(EMAIL) for _ in range(2))
    t_unknown = min(first_login_seconds("nobody@example.com") for _ in range(2))
    # making the dummy hash is a second bcrypt: it must not happen only for unknown emails
    assert t_unknown < 1.5 * t_known


# 4. failures counted in Postgres; 429 with Retry-After; no lock-out forever


def test_repeated_failures_give_429_with_retry_after(admin, login_fn, db):
    for _ in range(5):
        assert do_login(login_fn, password="wrong password!")["statusCode"] == 401
    limited = do_login(login_fn)  # even the right password waits
    assert limited["statusCode"] == 429
    retry_after = int(limited["headers"]["Retry-After"])
    assert 0 < retry_after <= 900
    count = db.execute("SELECT count(*) AS n FROM login_attempts WHERE NOT succeeded").fetchone()["n"]
    assert count == 5  # refused attempts are not counted: the lock ends one window later


def test_the_limit_holds_across_processes(admin, env):
    first, second = load_function("login"), load_function("login")  # two cold starts, one database
    for fn in (first, second, first, second, first):
        do_login(fn, password="wrong password!")
    assert do_login(second)["statusCode"] == 429


def test_the_limit_holds_against_concurrent_attempts(admin, env):
    # GIVEN 12 wrong guesses arriving at once, each in its own process (its own connection)
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from angebae.auth import sessions
    from angebae.errors import AppError

    settings, start = Settings.from_env(), Barrier(12)

    def attempt(_):
        db = Database(env["DATABASE_URL"])
        start.wait()
        try:
            sessions.login(db, settings, EMAIL, "wrong password!", "203.0.113.7")
        except AppError as exc:
            return exc.status
        finally:
            db.close()

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(attempt, range(12)))
    # THEN only the limit's worth of them is checked against the password; the rest wait
    assert statuses == [401] * 5 + [429] * 7


def test_a_flood_from_one_address_does_not_lock_the_user_out_elsewhere(admin, login_fn):
    for _ in range(8):
        do_login(login_fn, password="wrong password!", ip="198.51.100.66")
    assert do_login(login_fn, ip="198.51.100.66")["statusCode"] == 429
    assert do_login(login_fn, ip="203.0.113.7")["statusCode"] == 200


def test_the_lock_expires_after_the_window(admin, login_fn, db):
    for _ in range(5):
        do_login(login_fn, password="wrong password!")
    assert do_login(login_fn)["statusCode"] == 429
    # GIVEN the failures are older than the window
    db.execute("UPDATE login_attempts SET attempted_at = attempted_at - interval '16 minutes'")
    assert do_login(login_fn)["statusCode"] == 200


def test_password_spraying_from_one_address_is_limited(env, login_fn):
    for i in range(20):
        do_login(login_fn, email=f"user{i}@example.com", password="Summer2026!!", ip="192.0.2.99")
    assert do_login(login_fn, email="other@example.com", ip="192.0.2.99")["statusCode"] == 429


# 5-6. JWT: pinned algorithms, required claims, fresh jti


def _claims(**overrides):
    now = datetime.now(UTC)
    claims = {
        "sub": "00000000-0000-0000-0000-000000000001",
        "iss": "angebae",
        "aud": "angebae-admin",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "jti": "00000000-0000-0000-0000-0000000000aa",
        "gen": 0,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_token_with_alg_none_is_rejected(admin, login_fn, env):
    token = jwt.encode(_claims(sub=str(admin["id"])), key=None, algorithm="none")
    assert me(login_fn, _bearer(token))["statusCode"] == 401


def test_a_token_signed_with_another_algorithm_is_rejected(admin, login_fn, env):
    token = jwt.encode(_claims(sub=str(admin["id"])), env["JWT_SECRET"], algorithm="HS512")
    assert me(login_fn, _bearer(token))["statusCode"] == 401


def test_a_tampered_token_is_rejected(admin, login_fn):
    token = do_login(login_fn)["json"]["token"]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert me(login_fn, _bearer(tampered))["statusCode"] == 401


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub", "jti", "gen"])
def test_a_token_missing_a_required_claim_is_rejected(admin, login_fn, env, missing):
    claims = _claims(sub=str(admin["id"]))
    claims.pop(missing)
    token = jwt.encode(claims, env["JWT_SECRET"], algorithm="HS256")
    assert me(login_fn, _bearer(token))["statusCode"] == 401


@pytest.mark.parametrize(
    "claim,value", [("iss", "someone-else"), ("aud", "another-app"), ("exp", int(time.time()) - 60)]
)
def test_a_token_with_a_wrong_issuer_audience_or_past_expiry_is_rejected(admin, login_fn, env, claim, value):
    token = jwt.encode(_claims(sub=str(admin["id"]), **{claim: value}), env["JWT_SECRET"], algorithm="HS256")
    assert me(login_fn, _bearer(token))["statusCode"] == 401


def test_a_valid_token_within_the_leeway_is_accepted(admin, login_fn, env):
    token = jwt.encode(
        _claims(sub=str(admin["id"]), exp=int(time.time()) - 3), env["JWT_SECRET"], algorithm="HS256"
    )
    assert me(login_fn, _bearer(token))["statusCode"] == 200


def test_each_login_gets_a_new_jti(admin, login_fn, env):
    tokens = [do_login(login_fn)["json"]["token"] for _ in range(2)]
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 2


# 7. signing key of at least 32 bytes


def test_a_short_signing_key_stops_the_function_at_start_up(monkeypatch, env):
    monkeypatch.setenv("JWT_SECRET", "too-short")
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        load_function("login")


def test_a_missing_database_url_stops_the_function_naming_it(monkeypatch, env):
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_function("login")


# 8. the session cookie


def test_the_session_cookie_is_httponly_secure_strict_host_prefixed(admin, login_fn, env):
    response = do_login(login_fn)
    assert response["statusCode"] == 200
    cookie = set_cookies(response)[0]
    attributes = [p.strip() for p in cookie.split(";")]
    assert attributes[0].startswith("__Host-angebae_session=")
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=3600"} <= set(attributes)
    assert not any(a.lower().startswith("domain") for a in attributes)


def test_the_cookie_opens_admin_me(admin, login_fn):
    response = me(login_fn, {"Cookie": cookie_header(do_login(login_fn))})
    assert response["statusCode"] == 200
    assert response["json"]["admin"]["email"] == EMAIL
    assert "password_hash" not in response["json"]["admin"]


# 9. logout


def test_after_logout_the_old_cookie_gets_401_and_the_cookie_is_cleared(admin, login_fn, env, db):
    cookie = cookie_header(do_login(login_fn))
    logout_fn = load_function("logout")
    out = call(logout_fn, rest_event("POST", "/admin/logout", headers={"Cookie": cookie}))
    assert out["statusCode"] == 200
    assert "Max-Age=0" in set_cookies(out)[0]
    assert me(login_fn, {"Cookie": cookie})["statusCode"] == 401
    row = db.execute("SELECT expires_at FROM revoked_tokens").fetchone()
    assert row["expires_at"] > datetime.now(UTC)  # kept until the token would have expired


def test_logout_without_a_session_is_401(env):
    assert call(load_function("logout"), rest_event("POST", "/admin/logout"))["statusCode"] == 401


# 10. JSON only for state changes


def test_login_with_a_form_body_is_415(admin, login_fn):
    event = rest_event(
        "POST",
        "/admin/login",
        body=f"email={EMAIL}&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert call(login_fn, event)["statusCode"] == 415


def test_malformed_json_is_400_with_a_reason(admin, login_fn):
    event = rest_event(
        "POST",
        "/admin/login",
        body='{"email": "a@b.c", "password": ',
        headers={"Content-Type": "application/json"},
    )
    response = call(login_fn, event)
    assert response["statusCode"] == 400
    assert response["json"]["error"]["code"] == "invalid_json"


def test_missing_fields_are_400_naming_them(admin, login_fn):
    response = call(login_fn, rest_event("POST", "/admin/login", body={"email": EMAIL}))
    assert response["statusCode"] == 400
    assert response["json"]["error"]["details"]["fields"][0]["field"] == "password"


def test_cors_headers_only_for_allowed_origins(admin, monkeypatch, env):
    monkeypatch.setenv("CORS_ORIGINS", "https://admin.angebae.example")
    fn = load_function("login")
    allowed = me(fn, {"Origin": "https://admin.angebae.example"})
    other = me(fn, {"Origin": "https://evil.example"})
    assert allowed["headers"]["Access-Control-Allow-Origin"] == "https://admin.angebae.example"
    assert "Access-Control-Allow-Origin" not in other["headers"]


# 11. deactivated admins lose access at once


def test_a_deactivated_admin_loses_access_with_an_unexpired_token(admin, login_fn, db):
    cookie = cookie_header(do_login(login_fn))
    db.execute("UPDATE admin_users SET is_active = false WHERE email = %s", (EMAIL,))
    assert me(login_fn, {"Cookie": cookie})["statusCode"] == 401
    assert do_login(login_fn)["statusCode"] == 401


def test_failed_and_successful_logins_are_audited(admin, login_fn, db):
    do_login(login_fn, password="wrong password!")
    do_login(login_fn)
    # (the fixture's admin comes from seed-admin's code, whose 'create' is audited too)
    actions = [
        r["action"] for r in db.execute("SELECT action FROM audit_log WHERE action <> 'create' ORDER BY id")
    ]
    assert actions == ["login_failed", "login"]


def test_what_was_typed_as_email_is_never_stored_in_clear_for_an_unknown_account(admin, login_fn, db, env):
    # GIVEN someone types their password in the email field (no account has it)
    typed = "My-Secret-Passphrase-42"
    for _ in range(2):
        assert do_login(login_fn, email=typed, password="anything at all")["statusCode"] == 401
    # THEN nothing the API stored holds it, in any case, in any column
    for table in ("audit_log", "login_attempts"):
        leaked = db.execute(
            f"SELECT count(*) AS n FROM {table} t WHERE lower(t::text) LIKE %s", (f"%{typed.lower()}%",)
        ).fetchone()["n"]
        assert leaked == 0, table
    # AND the two attempts are still told apart from others: the same keyed hash, not the text
    rows = db.execute("SELECT entity_id, after FROM audit_log WHERE action = 'login_failed'").fetchall()
    assert len(rows) == 2 and rows[0]["after"] == rows[1]["after"] and rows[0]["entity_id"] is None
    key = rows[0]["after"]["email_key"]
    assert key.startswith("hmac-sha256:") and len(key) == len("hmac-sha256:") + 64
    assert {r["account_key"] for r in db.execute("SELECT account_key FROM login_attempts")} == {key}


def test_a_failed_login_of_an_existing_account_names_the_account(admin, login_fn, db):
    assert do_login(login_fn, email=EMAIL.upper(), password="wrong password!")["statusCode"] == 401
    row = db.execute("SELECT entity_id, after FROM audit_log WHERE action = 'login_failed'").fetchone()
    assert row["entity_id"] == str(admin["id"])
    assert row["after"] == {"email": EMAIL, "reason": "invalid_credentials"}


def test_a_password_reset_by_seed_admin_ends_existing_sessions(admin, login_fn, env):
    cookie = cookie_header(do_login(login_fn))
    create_or_update_admin(Database(env["DATABASE_URL"]), EMAIL, "a brand new passphrase", cost=10)
    assert me(login_fn, {"Cookie": cookie})["statusCode"] == 401
    assert do_login(login_fn, password="a brand new passphrase")["statusCode"] == 200


def test_old_login_attempts_are_swept_so_the_table_stays_small(admin, login_fn, db):
    db.execute("""INSERT INTO login_attempts (account_key, source_ip, succeeded, attempted_at)
                  SELECT 'old' || g || '@example.com', '192.0.2.1', false, now() - interval '2 days'
                  FROM generate_series(1, 30) g""")
    do_login(login_fn)
    assert (
        db.execute(
            "SELECT count(*) AS n FROM login_attempts WHERE attempted_at < now() - interval '1 day'"
        ).fetchone()["n"]
        == 0
    )
