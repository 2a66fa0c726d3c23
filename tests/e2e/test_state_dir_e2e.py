"""`angebae local --state-dir DIR` with its embedded database (no --database-url): the banner names
DIR/pgdata and the --events-url; `seed-admin` and `migrate` reach that database with the same
--state-dir while the stack runs; a restart keeps the dev admin signed in (re-seeding the same password
changes nothing) and every seed-admin change is in the audit log; the gateway reads a raw UTF-8 query
as UTF-8 (issue 11's review: state dir, restart, non-ASCII URLs)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile

import pytest
import requests
from e2e_support import EMAIL, ROOT, angebae_command, login, start_stack, stop_stack

pytestmark = pytest.mark.e2e

HOOK = "http://127.0.0.1:9/job-events"
VIEWER, VIEWER_PASSWORD = "viewer@example.com", "a fine reader passphrase"


def embedded(state: str):
    # "--database-url ''" (an empty URL) is no URL: the embedded pgserver in --state-dir's pgdata
    return start_stack("", worker=False, extra_args=("--state-dir", state, "--events-url", HOOK))


def command(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [*angebae_command(), *args, "--template", str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def raw_get(url: str, target: str, cookie: str) -> tuple[int, dict]:
    """GET with the target's UTF-8 bytes unescaped on the request line, as `curl "$API/...?q=camión"`."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_state_dir_banner_seed_admin_migrate_restart_and_a_raw_utf8_query():
    state = tempfile.mkdtemp(prefix="angebae-state-")
    try:
        stack = embedded(state)
        try:
            output = stack.log_tail(300)
            assert f"database     embedded pgserver in {state}/pgdata" in output, output
            assert f"job events   POSTed to {HOOK}" in output, output
            s = login(stack.url)
            created = s.post(f"{stack.url}/products", json={"name": "Camión rojo"}, timeout=30)
            assert created.status_code == 201, created.text
            cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
            status, found = raw_get(stack.url, "/products?q=camión", cookie)
            assert status == 200 and [p["name"] for p in found["items"]] == ["Camión rojo"], found

            seeded = command(
                "seed-admin",
                "--state-dir",
                state,
                "--email",
                VIEWER,
                "--password",
                VIEWER_PASSWORD,
                "--role",
                "viewer",
            )
            assert seeded.returncode == 0, seeded.stderr
            assert seeded.stdout.strip() == f"viewer {VIEWER} created"
            viewer = requests.post(
                f"{stack.url}/admin/login", json={"email": VIEWER, "password": VIEWER_PASSWORD}, timeout=30
            )
            assert viewer.status_code == 200, viewer.text
            migrated = command("migrate", "--state-dir", state)
            assert migrated.returncode == 0 and "up to date" in migrated.stdout, migrated.stderr
            assert s.get(f"{stack.url}/admin/me", timeout=30).status_code == 200  # the stack's server runs on
        finally:
            stop_stack(stack)

        stack = embedded(state)
        try:
            me = s.get(f"{stack.url}/admin/me", timeout=30)
            assert me.status_code == 200, me.text  # the dev admin is still signed in after the restart
            audit = s.get(f"{stack.url}/audit", params={"entity": "admin_user", "limit": 100}, timeout=30)
            assert audit.status_code == 200, audit.text
            seeded_rows = [
                (r["action"], r["after"]["email"])
                for r in audit.json()["items"]
                if (r["after"] or {}).get("via") == "seed-admin"
            ]
            assert sorted(seeded_rows) == [("create", EMAIL), ("create", VIEWER)], audit.json()
        finally:
            stop_stack(stack)
    finally:
        shutil.rmtree(state, ignore_errors=True)
