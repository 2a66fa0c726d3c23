"""`angebae local` as a user runs it: the real template, functions, moto, PostgreSQL, HTTP on loopback."""

from __future__ import annotations

import pytest
import requests
from e2e_support import EMAIL, PASSWORD

pytestmark = pytest.mark.e2e

# The `api` fixture (the running stack's URL) comes from tests/e2e/conftest.py.


def test_health_reports_database_storage_and_queue_up(api):
    r = requests.get(f"{api}/health", timeout=60)
    assert r.status_code == 200, r.text


def test_dev_admin_logs_in_reads_me_and_logs_out(api):
    s = requests.Session()
    r = s.post(f"{api}/admin/login", json={"email": EMAIL, "password": PASSWORD},
               timeout=60)
    assert r.status_code == 200, r.text
    assert "Set-Cookie" in r.headers
    assert s.get(f"{api}/admin/me", timeout=60).status_code == 200
    assert s.post(f"{api}/admin/logout", timeout=60).status_code in (200, 204)


def test_unknown_route_is_a_json_404(api):
    r = requests.get(f"{api}/no/such/route", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
