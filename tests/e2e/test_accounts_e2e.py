"""Issue 14 over HTTP on `angebae local`: enrol a second factor, sign in with a code, a replayed code
refused, a recovery code used once, a password change ending the other sessions, an unlock, and a
burst over POST /admin/login's limit answered 429 by the gateway with the project's error shape and
CORS headers. Each test has an account of its own, made by the dev admin."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pyotp
import pytest
import requests
from e2e_support import login

pytestmark = pytest.mark.e2e
PASSWORD = "Team-member-passphrase-42"
ORIGIN = "http://localhost:5173"  # the template's default CorsOrigins


@pytest.fixture
def root(api) -> requests.Session:
    return login(api)


@pytest.fixture
def member(api, root) -> str:
    email = f"team-{uuid.uuid4().hex[:8]}@example.com"
    r = root.post(
        f"{api}/admin/users", json={"email": email, "password": PASSWORD, "role": "editor"}, timeout=60
    )
    assert r.status_code == 201, r.text
    return email


def sign_in(api, email, password=PASSWORD, code=None) -> requests.Response:
    body = {"email": email, "password": password, **({"code": code} if code else {})}
    return requests.post(f"{api}/admin/login", json=body, timeout=60)


def enrol(api, email) -> tuple[pyotp.TOTP, list[str]]:
    s = requests.Session()
    assert s.post(f"{api}/admin/login", json={"email": email, "password": PASSWORD}, timeout=60).ok
    started = s.post(f"{api}/admin/me/two-factor", json={"password": PASSWORD}, timeout=60)
    assert started.status_code == 200, started.text
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/Angebae:")
    totp = pyotp.parse_uri(started.json()["otpauth_uri"])
    confirmed = s.post(f"{api}/admin/me/two-factor/confirm", json={"code": totp.now()}, timeout=60)
    assert confirmed.status_code == 200, confirmed.text
    assert s.get(f"{api}/admin/me", timeout=60).json()["two_factor"]["enabled"] is True
    return totp, confirmed.json()["recovery_codes"]


def test_enrol_then_sign_in_with_a_code_and_a_replayed_code_is_refused(api, member):
    totp, codes = enrol(api, member)
    assert len(codes) == 10
    missing = sign_in(api, member)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "two_factor_required"
    code = totp.at(time.time() + 30)  # the next step's code: not used by the enrolment
    ok = sign_in(api, member, code=code)
    assert ok.status_code == 200, ok.text
    assert (
        requests.get(
            f"{api}/admin/me", headers={"Authorization": f"Bearer {ok.json()['token']}"}, timeout=60
        ).status_code
        == 200
    )
    replay = sign_in(api, member, code=code)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "invalid_code"


def test_a_recovery_code_signs_in_once(api, member):
    _, codes = enrol(api, member)
    assert sign_in(api, member, code=codes[3]).status_code == 200
    again = sign_in(api, member, code=codes[3])
    assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_code"


def test_a_password_change_ends_the_other_sessions(api, member):
    first, second = requests.Session(), requests.Session()
    for s in (first, second):
        assert s.post(f"{api}/admin/login", json={"email": member, "password": PASSWORD}, timeout=60).ok
    weak = second.post(
        f"{api}/admin/me/password", json={"current_password": PASSWORD, "new_password": "short"}, timeout=60
    )
    assert weak.status_code == 400 and "12 to 1024 characters" in weak.json()["error"]["message"]
    change = {"current_password": PASSWORD, "new_password": "A-whole-new-passphrase-7"}
    r = second.post(f"{api}/admin/me/password", json=change, timeout=60)
    assert r.status_code == 200, r.text
    assert first.get(f"{api}/admin/me", timeout=60).status_code == 401
    assert second.get(f"{api}/admin/me", timeout=60).status_code == 200  # its new cookie
    assert sign_in(api, member, "A-whole-new-passphrase-7").status_code == 200


def test_an_admin_unlocks_a_throttled_account_audited_with_the_address(api, root, member, local_stack):
    codes = [sign_in(api, member, "not the password").status_code for _ in range(5)]
    assert codes == [401] * 5
    assert sign_in(api, member).status_code == 429
    r = root.post(f"{api}/admin/unlock", json={"email": member}, timeout=60)
    assert r.status_code == 200 and r.json()["cleared"] == 5, r.text
    assert sign_in(api, member).status_code == 200
    with psycopg.connect(local_stack.database_url) as conn:
        row = conn.execute(
            "SELECT actor_email, source_ip, after->>'email' FROM audit_log "
            "WHERE action = 'unlock' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == ("admin@example.com", "127.0.0.1", member)


def test_a_burst_over_the_login_limit_is_429_from_the_gateway_with_error_shape_and_cors(api):
    # POST /admin/login: burst 10, 5 a second (template defaults). 40 at once: the bucket runs dry.
    time.sleep(2.5)  # the logins of the tests before have refilled it: it starts full (10)

    def one(_):
        return requests.post(
            f"{api}/admin/login",
            data="{}",
            timeout=60,
            headers={"Content-Type": "application/json", "Origin": ORIGIN},
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(one, range(40)))
    statuses = [a.status_code for a in answers]
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled and statuses.count(400) >= 10, statuses
    for a in throttled:
        assert a.json()["error"]["code"] == "too_many_requests"
        assert a.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert a.headers["Access-Control-Allow-Credentials"] == "true"
    # Another method has its own bucket: GET /health is not throttled by the login burst.
    assert requests.get(f"{api}/health", timeout=60).status_code == 200
    time.sleep(2.5)  # the login bucket refills for the tests that follow
