"""PostgreSQL for the local stack: the given DATABASE_URL, else an embedded server (pgserver wheel)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("angebae.local.db")


class DatabaseUnavailable(RuntimeError):
    pass


class Database:
    def __init__(self, url: str, server=None) -> None:
        self.url = url
        self._server = server

    @property
    def embedded(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def open_database(url: str | None, data_dir: Path) -> Database:
    """Use `url` when given (checked with one connection); otherwise start pgserver in `data_dir`."""
    if url:
        check_connection(url)
        return Database(url)
    try:
        import pgserver
    except ImportError:
        raise DatabaseUnavailable(
            "no DATABASE_URL and the pgserver wheel is not installed (pip install '.[embedded]')"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    db = Database(server.get_uri(), server)
    check_connection(db.url)
    return db


def check_connection(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to the database: {first_line}") from None


def with_dbname(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo("", **info)


def scratch_server_url(env_var: str, data_dir: Path) -> str:
    """A server for tests and benchmarks: `$env_var`, else 127.0.0.1:5432, else pgserver in data_dir."""
    import os

    import psycopg

    url = os.environ.get(env_var)
    if url:
        return url
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(local, connect_timeout=2).close()
        return local
    except psycopg.OperationalError:
        import pgserver  # the `embedded` extra

        return pgserver.get_server(data_dir, cleanup_mode="stop").get_uri()
