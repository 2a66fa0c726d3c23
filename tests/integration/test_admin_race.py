"""At least one active admin, under concurrency (issue 13, item 5): two admins who demote or deactivate
each other at the same moment, many rounds, each on its own connection to the real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from angebae.auth import admins
from angebae.db import Database
from angebae.errors import AppError
from angebae.models import AdminUpdate
from angebae.settings import get_settings
from catalog_support import make_admin

ROUNDS = 25
CHANGES = [{"role": "editor"}, {"is_active": False}, {"role": "viewer"}]


def race(database_url: str, moves: list[tuple[dict, dict, dict]]) -> list[object]:
    """Run each (actor, target, change) in its own thread and connection, released together;
    the results (an admin dict or the AppError raised), in order."""
    barrier = threading.Barrier(len(moves))
    results: list[object] = [None] * len(moves)
    settings = get_settings()

    def move(i: int, actor: dict, target: dict, change: dict) -> None:
        db = Database(database_url)
        try:
            db.connection()  # connected before the start, so both reach the database together
            barrier.wait(timeout=10)
            # If-Match: * (any version): the race is about the last admin, not about stale reads
            results[i] = admins.update_admin(
                db, settings, target["id"], AdminUpdate(**change), actor, if_match="*"
            )
        except AppError as exc:
            results[i] = exc
        finally:
            db.close()

    threads = [threading.Thread(target=move, args=(i, *m)) for i, m in enumerate(moves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def active_admins(db) -> int:
    query = "SELECT count(*) AS n FROM admin_users WHERE role = 'admin' AND is_active"
    return db.execute(query).fetchone()["n"]


def test_two_admins_who_demote_each_other_at_once_leave_one_admin(env, db):
    ana, bea = make_admin(db, "admin", "ana@example.com"), make_admin(db, "admin", "bea@example.com")
    for n in range(ROUNDS):
        # GIVEN two active admins, and nobody else
        db.execute("UPDATE admin_users SET role = 'admin', is_active = true")
        change_a, change_b = CHANGES[n % 3], CHANGES[(n + 1) % 3]
        # WHEN each demotes or deactivates the other at the same moment
        results = race(env["DATABASE_URL"], [(ana, bea, change_a), (bea, ana, change_b)])
        # THEN one of them won, the other was refused (409: the last admin), and an admin remains
        assert active_admins(db) == 1, (n, results)
        refused = [r for r in results if isinstance(r, AppError)]
        assert len(refused) == 1 and refused[0].status in (403, 409), (n, results)


@pytest.mark.parametrize("change", CHANGES)
def test_the_last_active_admin_cannot_be_removed_by_another_admin_with_a_stale_session(env, db, change):
    # GIVEN ana, the only admin, and bea, deactivated after she was authenticated
    ana = make_admin(db, "admin", "ana@example.com")
    bea = make_admin(db, "admin", "bea@example.com")
    db.execute("UPDATE admin_users SET is_active = false WHERE id = %s", (bea["id"],))
    with pytest.raises(AppError) as refused:
        admins.update_admin(
            Database(env["DATABASE_URL"]), get_settings(), ana["id"], AdminUpdate(**change), bea, if_match="*"
        )
    assert refused.value.status == 403
    assert active_admins(db) == 1
