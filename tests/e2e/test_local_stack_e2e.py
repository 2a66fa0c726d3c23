"""`angebae local` as a user runs it: the real template, functions, PostgreSQL, HTTP on loopback; on
both engines (`any_api`): the embedded stack (moto, our gateway) and MiniStack (the template deployed
with the SAM CLI, its API Gateway URL)."""

from __future__ import annotations

import pytest
import requests
from e2e_support import EMAIL, PASSWORD

pytestmark = pytest.mark.e2e

# `any_api` (the running stack's URL, per engine) and `api` (the embedded stack's) come from
# tests/e2e/conftest.py.


@pytest.mark.ministack_smoke
def test_health_reports_database_storage_and_queue_up(any_api):
    r = requests.get(f"{any_api}/health", timeout=60)
    assert r.status_code == 200, r.text


@pytest.mark.ministack_smoke
def test_dev_admin_logs_in_reads_me_and_logs_out(any_api):
    s = requests.Session()
    r = s.post(f"{any_api}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    assert r.status_code == 200, r.text
    assert "Set-Cookie" in r.headers
    assert s.get(f"{any_api}/admin/me", timeout=60).status_code == 200
    assert s.post(f"{any_api}/admin/logout", timeout=60).status_code in (200, 204)


def test_unknown_route_is_a_json_404(api):
    r = requests.get(f"{api}/no/such/route", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_the_gateways_own_errors_carry_cors_headers_for_the_front_end(api):
    # as the template's GatewayResponses make API Gateway's: a browser can read why it failed
    r = requests.get(f"{api}/no/such/route", timeout=10, headers={"Origin": "http://localhost:5173"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"


def test_after_logout_the_same_cookie_is_401(any_api):
    s = requests.Session()
    s.post(f"{any_api}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    cookies = s.cookies.copy()
    assert s.post(f"{any_api}/admin/logout", timeout=60).status_code == 200
    assert requests.get(f"{any_api}/admin/me", cookies=cookies, timeout=60).status_code == 401


def test_the_session_cookie_is_httponly_and_samesite_strict(any_api):
    r = requests.post(f"{any_api}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


def test_malformed_json_is_400_with_a_reason(any_api):
    r = requests.post(
        f"{any_api}/admin/login", data='{"email": ', timeout=60, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_a_73_byte_password_is_401_not_500(any_api):
    r = requests.post(f"{any_api}/admin/login", json={"email": EMAIL, "password": "x" * 73}, timeout=60)
    assert r.status_code == 401


def test_repeated_failures_give_429_with_retry_after(any_api):
    # another account than the dev admin's, so that the other tests of this session still log in
    body = {"email": "locked-out@example.com", "password": "not the password"}
    codes = [requests.post(f"{any_api}/admin/login", json=body, timeout=60).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5
    limited = requests.post(f"{any_api}/admin/login", json=body, timeout=60)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


@pytest.mark.ministack_smoke
def test_a_browser_preflight_from_the_front_end_is_answered_with_cors_headers(any_api):
    # MiniStack's MOCK preflight answers without them: there the function answers (angebae.http.preflight)
    r = requests.options(
        f"{any_api}/admin/login",
        timeout=60,
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code in (200, 204), r.text
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "content-type" in r.headers["Access-Control-Allow-Headers"].lower()
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
