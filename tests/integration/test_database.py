"""../shared/RELIABILITY.md 23-25: migrations, the reused connection, SQL parameters."""

from __future__ import annotations

import threading

import psycopg
import pytest
from angebae.db import Database, one
from angebae.errors import Conflict, DatabaseUnavailable
from angebae.migrations import apply_migrations, discover


def _versions(url):
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_migrations_apply_from_zero_and_a_second_run_does_nothing(empty_database):
    first = apply_migrations(empty_database)
    assert first == [f"{m.version:04d}_{m.name}" for m in discover()]
    assert apply_migrations(empty_database) == []
    assert _versions(empty_database) == [m.version for m in discover()]


def test_a_failing_migration_leaves_the_previous_version_intact(empty_database, tmp_path):
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE kept (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        apply_migrations(empty_database, tmp_path)
    assert _versions(empty_database) == [1]
    with psycopg.connect(empty_database) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert "kept" in tables and "half" not in tables


def test_concurrent_runners_apply_each_migration_once(empty_database):
    results, errors = [], []

    def run():
        try:
            results.append(apply_migrations(empty_database))
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, 0, len(discover())]


def test_the_connection_is_reused_and_reopened_after_the_server_dropped_it(env):
    db = Database(env["DATABASE_URL"])
    with db.transaction() as conn:
        first_pid = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
    with db.transaction() as conn:
        assert conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"] == first_pid
    # GIVEN the server drops the connection (a restart, an idle timeout, a failover)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
    db._last_used = 0  # as after an idle pause between invocations
    with db.transaction() as conn:
        assert conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"] != first_pid
    db.close()


def test_an_error_in_one_invocation_does_not_poison_the_next(env):
    db = Database(env["DATABASE_URL"])
    with pytest.raises(Conflict):
        with db.transaction() as conn:
            conn.execute("INSERT INTO categories (name, slug) VALUES ('a', 'same')")
            conn.execute("INSERT INTO categories (name, slug) VALUES ('b', 'same')")
    with db.transaction() as conn:
        assert conn.execute("SELECT count(*) AS n FROM categories").fetchone()["n"] == 0
    db.close()


def test_an_unreachable_database_is_a_transient_domain_error():
    db = Database("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(DatabaseUnavailable) as caught:
        db.connection()
    assert caught.value.transient and caught.value.status == 503


def test_prepared_statements_can_be_turned_off_for_a_pooler(env):
    db = Database(env["DATABASE_URL"], prepare_threshold=None)
    assert db.connection().prepare_threshold is None
    db.close()


def test_one_returns_the_row_and_refuses_a_statement_that_returned_none(env):
    db = Database(env["DATABASE_URL"])
    with db.transaction() as conn:
        assert one(conn.execute("SELECT count(*) AS n FROM categories"))["n"] == 0
        with pytest.raises(RuntimeError, match=r"no row \(UPDATE 0\)"):
            one(conn.execute("UPDATE categories SET name = 'x' WHERE false RETURNING id"))
    db.close()


INJECTIONS = ["'; DROP TABLE admin_users; --", "x' OR '1'='1", "Robert'); DELETE FROM audit_log;--"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_payloads_are_stored_as_the_literal_text(env, db, payload):
    from angebae.auth import sessions
    from angebae.settings import get_settings
    from support import call, load_function, rest_event

    fn = load_function("login")
    response = call(fn, rest_event("POST", "/admin/login", body={"email": payload, "password": payload}))
    assert response["statusCode"] == 401
    # the attempt is counted under the keyed hash of the exact text sent (never the text itself)
    stored = db.execute("SELECT account_key FROM login_attempts").fetchone()["account_key"]
    assert stored == sessions.account_key(get_settings(), payload)
    assert db.execute("SELECT to_regclass('admin_users') IS NOT NULL AS ok").fetchone()["ok"]
