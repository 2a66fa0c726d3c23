"""Apply numbered SQL files (`migrations/0001_name.sql`, ...) in order.

Each file runs in one transaction together with its ledger row; a session advisory lock serialises
concurrent runners; a second run applies nothing; a failing file rolls back and leaves the previous
version intact.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from angebae.db import one

log = logging.getLogger(__name__)

_LOCK_KEY = 0x616E6765  # "ange": one advisory lock id for all migration runners
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def migrations_dir() -> Path:
    """`MIGRATIONS_DIR`, else the `sql/` folder shipped in the layer, else the repository's."""
    if os.environ.get("MIGRATIONS_DIR"):
        return Path(os.environ["MIGRATIONS_DIR"])
    here = Path(__file__).resolve().parent
    shipped = here / "sql"
    return shipped if shipped.is_dir() else here.parents[3] / "migrations"


class NoMigrations(RuntimeError):
    """No migration file where they should be: an install without them would migrate nothing."""


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    if not directory.is_dir() or not any(directory.glob("*.sql")):
        raise NoMigrations(
            f"no migration files (NNNN_name.sql) in {directory}: the package was installed "
            "without its sql/ folder, or MIGRATIONS_DIR names the wrong folder"
        )
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS sha256 text"""


class MigrationDrift(RuntimeError):
    """An applied migration's file has changed since: the database and the code disagree."""


def apply_migrations(database_url: str, directory: Path | None = None) -> list[str]:
    """Apply what is pending; return the names applied (empty when up to date)."""
    pending = discover(directory)
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_LEDGER)
            rows = conn.execute("SELECT version, sha256 FROM schema_migrations").fetchall()
            done: dict[int, str | None] = dict(rows)
            for migration in pending:
                sql_text = migration.path.read_text()
                digest = hashlib.sha256(sql_text.encode()).hexdigest()
                if migration.version in done:
                    if done[migration.version] not in (None, digest):
                        raise MigrationDrift(
                            f"{migration.path.name} changed after it was applied: "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(sql_text)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, digest),
                    )
                log.info("applied migration %04d_%s", migration.version, migration.name)
                applied.append(f"{migration.version:04d}_{migration.name}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def current_version(conn: psycopg.Connection[Any]) -> int | None:
    """The applied version (None before the first), on a connection of tuple or dict rows."""
    row = one(conn.execute("SELECT max(version) AS v FROM schema_migrations"))
    value = row["v"] if isinstance(row, dict) else row[0]
    return value
