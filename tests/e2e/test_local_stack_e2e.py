"""`angebae local` as a user runs it: the real template, functions, moto, PostgreSQL, HTTP on loopback."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
EMAIL, PASSWORD = "admin@example.com", "Local-stack-e2e-Passphrase-7"
NEEDED = ["functions/health/app.py", "functions/login/app.py", "functions/logout/app.py"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api():
    missing = [p for p in NEEDED if not (ROOT / p).is_file()]
    for mod in ("angebae.migrations", "angebae.admins"):
        if importlib.util.find_spec(mod) is None:
            missing.append(mod)
    if missing:
        pytest.skip("not written yet: " + ", ".join(missing))
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}")
    dbname = f"angebae_e2e_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{dbname}"')
    db_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname
    port = _free_port()
    env = dict(os.environ, ANGEBAE_ADMIN_EMAIL=EMAIL, ANGEBAE_ADMIN_PASSWORD=PASSWORD)
    proc = subprocess.Popen(
        [sys.executable, "-m", "angebae_local.cli", "local", "--no-worker", "--port", str(port),
         "--aws-port", "0", "--database-url", db_url, "--template", str(ROOT / "template.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    output = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if "angebae local stack is up" in line:
            break
    else:
        line = ""
    if proc.poll() is not None or not output or "stack is up" not in output[-1]:
        proc.kill()
        pytest.fail("angebae local did not start:\n" + "".join(output))
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)
    admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    admin.close()


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
