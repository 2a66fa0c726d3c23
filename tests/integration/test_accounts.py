"""Issue 14 through the handlers, on a real PostgreSQL: two-factor sign-in (enrolment, codes used once,
recovery codes, limits, role policy, reset), own password change, unlock, source address on audit rows."""

from __future__ import annotations

import time

import pyotp
import pytest
from angebae.auth import twofactor
from angebae.auth.admins import create_or_update_admin
from angebae.auth.passwords import POLICY
from angebae.db import Database
from catalog_support import Client, make_admin
from conftest import TEST_TOTP_KEY
from support import call, load_function, rest_event, set_cookies

EMAIL, PASSWORD = "ana@example.com", "correct horse battery staple"
IP = "203.0.113.7"


@pytest.fixture
def login_fn(env):
    return load_function("login")


@pytest.fixture
def admins_fn(env):
    return load_function("admins")


@pytest.fixture
def ana(env):
    db = Database(env["DATABASE_URL"])
    row, _ = create_or_update_admin(db, EMAIL, PASSWORD, cost=10)
    db.close()
    return row


def post(fn, resource, body, token=None, ip=IP):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return call(fn, rest_event("POST", resource, body=body, headers=headers, source_ip=ip))


def get(fn, resource, token):
    return call(fn, rest_event("GET", resource, headers={"Authorization": f"Bearer {token}"}))


def login(fn, password=PASSWORD, code=None, ip=IP, email=EMAIL):
    body = {"email": email, "password": password, **({"code": code} if code is not None else {})}
    return post(fn, "/admin/login", body, ip=ip)


def enrol(fn) -> tuple[str, pyotp.TOTP, list[str]]:
    """Ana signs in, enrols and confirms: (her new token, her authenticator, her recovery codes)."""
    token = login(fn)["json"]["token"]
    started = post(fn, "/admin/me/two-factor", {"password": PASSWORD}, token)
    assert started["statusCode"] == 200, started["json"]
    totp = pyotp.TOTP(started["json"]["secret"])
    confirmed = post(fn, "/admin/me/two-factor/confirm", {"code": totp.now()}, token)
    assert confirmed["statusCode"] == 200, confirmed["json"]
    return confirmed["json"]["token"], totp, confirmed["json"]["recovery_codes"]


def next_code(totp: pyotp.TOTP) -> str:
    """The next step's code (accepted as one step of drift): a code the account has not used yet."""
    return totp.at(time.time() + 30)


# --- enrolment -------------------------------------------------------------------------------------


def test_enrolment_shows_an_otpauth_uri_once_and_stores_the_secret_encrypted(login_fn, ana, db):
    token = login(login_fn)["json"]["token"]
    started = post(login_fn, "/admin/me/two-factor", {"password": PASSWORD}, token)
    uri = started["json"]["otpauth_uri"]
    assert uri.startswith("otpauth://totp/Angebae:ana%40example.com?secret=") and "issuer=Angebae" in uri
    assert started["headers"]["Cache-Control"] == "no-store"
    row = db.execute("SELECT totp_pending, totp_secret, totp_enabled_at FROM admin_users").fetchone()
    secret = started["json"]["secret"]
    assert secret not in row["totp_pending"] and row["totp_secret"] is None and row["totp_enabled_at"] is None
    assert twofactor.decrypt_secret(TEST_TOTP_KEY, ana["id"], row["totp_pending"]) == secret
    with pytest.raises(twofactor.SecretUnreadable):
        twofactor.decrypt_secret("another-key-" + "z" * 40, ana["id"], row["totp_pending"])


def test_starting_enrolment_needs_the_current_password(login_fn, ana):
    token = login(login_fn)["json"]["token"]
    response = post(login_fn, "/admin/me/two-factor", {"password": "not my password"}, token)
    assert response["statusCode"] == 403 and response["json"]["error"]["code"] == "wrong_password"


def test_a_wrong_first_code_does_not_enable_two_factor(login_fn, ana, db):
    token = login(login_fn)["json"]["token"]
    post(login_fn, "/admin/me/two-factor", {"password": PASSWORD}, token)
    response = post(login_fn, "/admin/me/two-factor/confirm", {"code": "000000"}, token)
    assert response["statusCode"] == 400 and response["json"]["error"]["code"] == "invalid_code"
    assert get(login_fn, "/admin/me", token)["statusCode"] == 200  # still signed in
    assert db.execute("SELECT totp_enabled_at FROM admin_users").fetchone()["totp_enabled_at"] is None


def test_confirming_gives_ten_recovery_codes_stored_hashed_and_ends_other_sessions(login_fn, ana, db):
    other = login(login_fn)["json"]["token"]
    token, _, codes = enrol(login_fn)
    assert len(codes) == len(set(codes)) == 10
    stored = {r["code_hash"] for r in db.execute("SELECT code_hash FROM recovery_codes").fetchall()}
    assert stored == {twofactor.recovery_hash(ana["id"], c) for c in codes}
    assert not any(c in h for c in codes for h in stored)
    assert get(login_fn, "/admin/me", other)["statusCode"] == 401
    me = get(login_fn, "/admin/me", token)
    assert me["statusCode"] == 200 and me["json"]["two_factor"] == {"enabled": True, "required": False}
    assert me["json"]["admin"]["two_factor_enabled"] is True


def test_enrolling_twice_is_409(login_fn, ana):
    token, _, _ = enrol(login_fn)
    response = post(login_fn, "/admin/me/two-factor", {"password": PASSWORD}, token)
    assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "two_factor_enabled"


# --- signing in with two factors -------------------------------------------------------------------


def test_sign_in_needs_the_code_once_enrolled_and_a_code_is_used_once(login_fn, ana):
    _, totp, _ = enrol(login_fn)
    missing = login(login_fn)
    assert missing["statusCode"] == 401 and missing["json"]["error"]["code"] == "two_factor_required"
    assert login(login_fn, code="123456" if next_code(totp) != "123456" else "654321")["statusCode"] == 401
    code = next_code(totp)
    assert login(login_fn, code=code)["statusCode"] == 200
    replay = login(login_fn, code=code)
    assert replay["statusCode"] == 401 and "already used" in replay["json"]["error"]["message"]
    assert (
        login(login_fn, password="wrong password!", code=code)["json"]["error"]["code"]
        == "invalid_credentials"
    )


def test_the_code_of_the_step_already_used_at_enrolment_is_refused(login_fn, ana):
    _, totp, _ = enrol(login_fn)  # confirmed with totp.now()
    assert login(login_fn, code=totp.now())["statusCode"] == 401


def test_a_recovery_code_signs_in_once(login_fn, ana, db):
    _, _, codes = enrol(login_fn)
    first = login(login_fn, code=codes[0].upper().replace("-", " "))  # as a user may type it
    assert first["statusCode"] == 200
    assert login(login_fn, code=codes[0])["statusCode"] == 401
    assert login(login_fn, code=codes[1])["statusCode"] == 200
    row = db.execute("SELECT after FROM audit_log WHERE action = 'login' ORDER BY id DESC LIMIT 1").fetchone()
    assert row["after"] == {"second_factor": "recovery_code"}


def test_wrong_codes_count_towards_the_login_limit(login_fn, ana):
    _, totp, _ = enrol(login_fn)
    wrong = "111111" if totp.now() != "111111" else "222222"
    codes = [login(login_fn, code=wrong, ip="198.51.100.9")["statusCode"] for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert login(login_fn, code=next_code(totp), ip="198.51.100.9")["statusCode"] == 429


# --- role policy and reset -------------------------------------------------------------------------


def test_a_role_requiring_two_factor_lets_an_unenrolled_account_only_enrol(login_fn, admins_fn, ana, db):
    boss = Client(admins_fn, make_admin(db, "admin", "boss@example.com"))
    db.execute("UPDATE admin_users SET role = 'editor' WHERE id = %s", (ana["id"],))
    response = boss.patch("/admin/roles", body={"role": "editor", "two_factor_required": True})
    assert {"role": "editor", "two_factor_required": True} in response["json"]["items"]
    audit = db.execute("SELECT actor_id, after FROM audit_log WHERE action = 'role_policy'").fetchone()
    assert audit["actor_id"] == boss.admin["id"] and audit["after"] == {"two_factor_required": True}
    session = login(login_fn)["json"]
    assert session["two_factor_setup_required"] is True
    products = load_function("products")
    blocked = call(
        products, rest_event("GET", "/products", headers={"Authorization": f"Bearer {session['token']}"})
    )
    assert blocked["statusCode"] == 403 and blocked["json"]["error"]["code"] == "two_factor_setup_required"
    assert get(login_fn, "/admin/me", session["token"])["json"]["two_factor"]["required"] is True
    token, _, _ = enrol(login_fn)
    allowed = call(products, rest_event("GET", "/products", headers={"Authorization": f"Bearer {token}"}))
    assert allowed["statusCode"] == 200


def test_an_admin_without_a_second_factor_cannot_require_one_for_their_own_role(admins_fn, db):
    boss = Client(admins_fn, make_admin(db, "admin", "boss@example.com"))
    response = boss.patch("/admin/roles", body={"role": "admin", "two_factor_required": True})
    assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "enrol_first"
    off = {"role": "admin", "two_factor_required": False}
    assert boss.patch("/admin/roles", body=off)["statusCode"] == 200
    policies = boss.get("/admin/roles")["json"]["items"]
    assert {"role": "admin", "two_factor_required": False} in policies


def test_an_admin_resets_another_admins_second_factor_audited(login_fn, admins_fn, ana, db):
    enrol(login_fn)
    boss = Client(admins_fn, make_admin(db, "admin", "boss@example.com"))
    response = boss.delete("/admin/users/{id}/two-factor", id=ana["id"])
    assert response["statusCode"] == 200 and response["json"]["two_factor_enabled"] is False
    assert db.execute("SELECT count(*) AS n FROM recovery_codes").fetchone()["n"] == 0
    audit = db.execute(
        "SELECT actor_id, entity_id, after, source_ip FROM audit_log WHERE action = 'two_factor_reset'"
    ).fetchone()
    assert audit["actor_id"] == boss.admin["id"] and audit["entity_id"] == str(ana["id"])
    assert audit["after"]["recovery_codes_removed"] == 10 and audit["source_ip"] == IP
    assert login(login_fn)["statusCode"] == 200  # the password alone again


def test_an_admin_cannot_reset_their_own_second_factor(admins_fn, db):
    boss = Client(admins_fn, make_admin(db, "admin", "boss@example.com"))
    response = boss.delete("/admin/users/{id}/two-factor", id=boss.admin["id"])
    assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "self_two_factor_reset"


def test_editors_cannot_reset_factors_set_policies_or_unlock(admins_fn, db):
    editor = Client(admins_fn, make_admin(db, "editor"))
    assert editor.delete("/admin/users/{id}/two-factor", id=editor.admin["id"])["statusCode"] == 403
    policy = {"role": "viewer", "two_factor_required": True}
    assert editor.patch("/admin/roles", body=policy)["statusCode"] == 403
    assert editor.post("/admin/unlock", body={"source_ip": IP})["statusCode"] == 403


# --- own password ------------------------------------------------------------------------------------


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(login_fn, ana, db):
    other = login(login_fn)["json"]["token"]
    token = login(login_fn)["json"]["token"]
    response = post(
        login_fn,
        "/admin/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        token,
    )
    assert response["statusCode"] == 200
    assert set_cookies(response) and response["json"]["token"] != token
    assert get(login_fn, "/admin/me", other)["statusCode"] == 401
    assert get(login_fn, "/admin/me", token)["statusCode"] == 401  # replaced by the new one
    assert get(login_fn, "/admin/me", response["json"]["token"])["statusCode"] == 200
    assert login(login_fn)["statusCode"] == 401
    assert login(login_fn, password="a brand new passphrase")["statusCode"] == 200
    audit = db.execute(
        "SELECT actor_id, source_ip FROM audit_log WHERE action = 'password_change'"
    ).fetchone()
    assert audit["actor_id"] == ana["id"] and audit["source_ip"] == IP


def test_a_wrong_current_password_is_403_and_counted(login_fn, ana):
    token = login(login_fn, ip="198.51.100.20")["json"]["token"]
    body = {"current_password": "not the password", "new_password": "a brand new passphrase"}
    codes = [
        post(login_fn, "/admin/me/password", body, token, ip="198.51.100.20")["statusCode"] for _ in range(6)
    ]
    assert codes == [403] * 5 + [429]


@pytest.mark.parametrize("new", ["short", "ana-and-some-more-words"])
def test_a_weak_new_password_is_400_stating_the_policy(login_fn, ana, new):
    token = login(login_fn)["json"]["token"]
    body = {"current_password": PASSWORD, "new_password": new}
    response = post(login_fn, "/admin/me/password", body, token)
    assert response["statusCode"] == 400
    error = response["json"]["error"]
    assert POLICY in error["message"] and error["details"]["fields"][0]["field"] == "new_password"
    assert "12" in POLICY and "email" in POLICY


# --- unlock ------------------------------------------------------------------------------------------


def test_an_admin_unlocks_an_account_before_the_window_ends_audited(login_fn, admins_fn, ana, db):
    for _ in range(5):
        login(login_fn, password="wrong password!", ip="198.51.100.30")
    assert login(login_fn, ip="198.51.100.30")["statusCode"] == 429
    boss = Client(admins_fn, make_admin(db, "admin", "boss@example.com"))
    response = boss.post("/admin/unlock", body={"email": "ANA@example.com"})
    assert response["statusCode"] == 200 and response["json"]["cleared"] == 5
    assert login(login_fn, ip="198.51.100.30")["statusCode"] == 200
    audit = db.execute("SELECT actor_id, entity_id, after FROM audit_log WHERE action = 'unlock'").fetchone()
    assert audit["actor_id"] == boss.admin["id"] and audit["entity_id"] == str(ana["id"])
    assert audit["after"] == {"email": EMAIL, "failures_cleared": 5}


def test_an_admin_unlocks_an_address(login_fn, admins_fn, ana, db):
    for i in range(20):  # spraying: 20 accounts from one address trips the address limit
        login(login_fn, email=f"nobody{i}@example.com", password="whatever", ip="198.51.100.40")
    assert login(login_fn, ip="198.51.100.40")["statusCode"] == 429
    boss = Client(admins_fn, make_admin(db, "admin", "boss@example.com"))
    response = boss.post("/admin/unlock", body={"source_ip": "198.51.100.40"})
    assert response["json"] == {"cleared": 20, "source_ip": "198.51.100.40"}
    assert login(login_fn, ip="198.51.100.40")["statusCode"] == 200


@pytest.mark.parametrize("body", [{}, {"source_ip": "not an address"}, {"email": "a@b.c", "x": 1}])
def test_an_unlock_naming_nothing_valid_is_400(admins_fn, db, body):
    boss = Client(admins_fn, make_admin(db, "admin", "boss@example.com"))
    assert boss.post("/admin/unlock", body=body)["statusCode"] == 400


# --- source address on every audit row ----------------------------------------------------------------


def test_audit_rows_of_catalog_changes_carry_the_source_address(env, db):
    editor = Client(load_function("categories"), make_admin(db, "editor"))
    assert editor.post("/categories", body={"name": "Herramientas"})["statusCode"] == 201
    row = db.execute("SELECT source_ip FROM audit_log WHERE entity = 'category'").fetchone()
    assert row["source_ip"] == IP


def test_one_code_sent_by_two_requests_at_once_signs_in_once(login_fn, ana, env):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from angebae.auth import sessions
    from angebae.errors import AppError
    from angebae.settings import get_settings

    _, totp, _ = enrol(login_fn)
    code, settings, barrier = next_code(totp), get_settings(), Barrier(2)

    def attempt(ip):
        db = Database(env["DATABASE_URL"])
        try:
            barrier.wait()
            sessions.login(db, settings, EMAIL, PASSWORD, ip, code)
            return "ok"
        except AppError as exc:
            return exc.code
        finally:
            db.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(attempt, ["198.51.100.50", "198.51.100.51"]))
    assert outcomes == ["invalid_code", "ok"]


def test_the_source_address_of_a_request_does_not_outlive_it(login_fn, ana):
    from angebae import audit

    assert login(login_fn)["statusCode"] == 200
    assert audit.SOURCE_IP.get() is None


def test_an_account_deleted_after_its_session_was_checked_is_401_not_a_500(env, ana, db):
    """The account's row is read when the session is checked; another admin may delete the account
    before the password check or the enrolment's confirmation reads it again (the type checker found
    the missing row was indexed: a TypeError, a 500)."""
    from angebae.auth import accounts, sessions
    from angebae.settings import get_settings

    db.execute("DELETE FROM admin_users WHERE id = %s", (ana["id"],))
    database = Database(env["DATABASE_URL"])
    change = accounts.PasswordChange(current_password=PASSWORD, new_password="another horse battery staple")
    with pytest.raises(sessions.InvalidSession) as caught:
        accounts.change_password(database, get_settings(), ana, change, IP)
    assert caught.value.status == 401
    with pytest.raises(sessions.InvalidSession):
        accounts.confirm_enrolment(database, get_settings(), ana, accounts.CodeProof(code="123456"), IP)
    assert db.execute("SELECT count(*) AS n FROM admin_users").fetchone()["n"] == 0
    database.close()
