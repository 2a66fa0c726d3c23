"""`seed-admin` (angebae.auth.admins.create_or_update_admin): the same password and role again change
nothing (the dev admin stays signed in across `angebae local` restarts), a new password ends the old
sessions, and every change is audited with no actor, `via: seed-admin`; the command says the role."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from angebae.auth.admins import create_or_update_admin
from angebae.db import Database
from support import call, load_function, rest_event, set_cookies

ANGEBAE = [sys.executable, "-m", "angebae_local.cli"]
EMAIL, PASSWORD = "ana@example.com", "a seeded and fine passphrase"


@pytest.fixture
def database(env):
    db = Database(env["DATABASE_URL"])
    yield db
    db.close()


def signed_in(fn) -> str:
    response = call(fn, rest_event("POST", "/admin/login", body={"email": EMAIL, "password": PASSWORD}))
    assert response["statusCode"] == 200, response["body"]
    return set_cookies(response)[0].split(";")[0]


def me_status(fn, cookie: str) -> int:
    return call(fn, rest_event("GET", "/admin/me", headers={"Cookie": cookie}))["statusCode"]


def audit_rows(db) -> list[dict]:
    return db.execute("""SELECT actor_id, actor_email, action, entity_id, before, after FROM audit_log
                         WHERE entity = 'admin_user' AND action <> 'login' ORDER BY id""").fetchall()


def test_the_same_password_and_role_again_change_nothing_and_keep_sessions(database, db):
    row, outcome = create_or_update_admin(database, EMAIL, PASSWORD, cost=10)
    assert outcome == "created"
    fn = load_function("login")
    cookie = signed_in(fn)
    again, outcome = create_or_update_admin(database, EMAIL.upper(), PASSWORD, cost=10)
    assert outcome == "unchanged"
    now = db.execute("SELECT * FROM admin_users WHERE id = %s", (row["id"],)).fetchone()
    assert (now["password_hash"], now["session_generation"], now["version"]) == (
        row["password_hash"],
        row["session_generation"],
        row["version"],
    )
    assert me_status(fn, cookie) == 200
    rows = audit_rows(db)
    assert [r["action"] for r in rows] == ["create"]
    created = rows[0]
    assert created["actor_id"] is None and created["actor_email"] is None
    assert created["entity_id"] == str(row["id"])
    assert created["after"]["via"] == "seed-admin" and created["after"]["role"] == "admin"
    assert "password_hash" not in created["after"]


def test_a_new_password_ends_old_sessions_and_is_audited_without_the_hash(database, db):
    row, _ = create_or_update_admin(database, EMAIL, PASSWORD, cost=10)
    fn = load_function("login")
    cookie = signed_in(fn)
    after, outcome = create_or_update_admin(database, EMAIL, "another seeded passphrase", cost=10)
    assert outcome == "updated"
    assert after["session_generation"] == row["session_generation"] + 1
    assert after["version"] == row["version"] + 1 and after["password_hash"] != row["password_hash"]
    assert me_status(fn, cookie) == 401
    update = audit_rows(db)[-1]
    assert update["action"] == "update" and update["actor_id"] is None
    assert update["after"]["password_changed"] is True and update["after"]["via"] == "seed-admin"
    assert "$2b$" not in str(update["before"]) + str(update["after"])


def test_a_role_change_or_a_reactivation_keeps_the_password_and_the_sessions(database, db):
    row, _ = create_or_update_admin(database, EMAIL, PASSWORD, cost=10)
    fn = load_function("login")
    cookie = signed_in(fn)
    db.execute("UPDATE admin_users SET is_active = false WHERE id = %s", (row["id"],))
    after, outcome = create_or_update_admin(database, EMAIL, PASSWORD, role="editor", cost=10)
    assert outcome == "updated"
    assert (after["role"], after["is_active"]) == ("editor", True)
    assert (after["password_hash"], after["session_generation"]) == (
        row["password_hash"],
        row["session_generation"],
    )
    assert me_status(fn, cookie) == 200
    update = audit_rows(db)[-1]
    assert update["before"] == {"role": "admin", "is_active": False, "version": 1}
    assert update["after"] == {"role": "editor", "is_active": True, "version": 2, "via": "seed-admin"}


def _angebae(database_url, *args):
    return subprocess.run(
        [*ANGEBAE, "seed-admin", "--database-url", database_url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, BCRYPT_COST="10"),
    )


def test_the_command_names_the_role_and_says_when_nothing_changed(database_url, db):
    viewer = ("--password", PASSWORD, "--role", "viewer")
    first = _angebae(database_url, "--email", "Viewer@Example.com", *viewer)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "viewer viewer@example.com created"
    again = _angebae(database_url, "--email", "viewer@example.com", *viewer)
    assert again.stdout.strip() == (
        "viewer viewer@example.com already existed with this password and role: nothing changed"
    )
    changed = _angebae(database_url, "--email", "viewer@example.com", "--password", PASSWORD)
    assert changed.stdout.startswith("admin viewer@example.com already existed: ")
    assert [r["action"] for r in audit_rows(db)] == ["create", "update"]
