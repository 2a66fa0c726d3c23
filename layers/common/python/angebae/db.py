"""One PostgreSQL connection per process, reused across invocations and reopened when it broke.

Driver errors are translated to domain errors here (`translate_errors`), so nothing else in the code
matches on psycopg exceptions.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator
from typing import Any, TypeAlias, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from angebae.errors import BadRequest, Conflict, DatabaseUnavailable, ServiceUnavailable
from angebae.settings import get_settings

log = logging.getLogger(__name__)

# A connection idle longer than this is pinged before use: RDS, proxies and restarts drop idle ones.
_PING_AFTER_IDLE_SECONDS = 5.0

# Every connection of the project returns its rows as dicts (dict_row): annotate with this, not with a bare
# psycopg.Connection (whose rows are tuples).
Connection: TypeAlias = psycopg.Connection[DictRow]
R = TypeVar("R")


class Database:
    def __init__(
        self, url: str, *, prepare_threshold: int | None = 5, application_name: str = "angebae"
    ) -> None:
        self.url = url
        self.prepare_threshold = prepare_threshold
        self.application_name = application_name
        self._conn: Connection | None = None
        self._last_used = 0.0

    def _open(self) -> Connection:
        with translate_errors():
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=5,
                application_name=self.application_name,
            )
        conn.prepare_threshold = self.prepare_threshold
        return conn

    def connection(self) -> Connection:
        """The process' connection, checked: reopened if closed, broken or dead after idling."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            if time.monotonic() - self._last_used > _PING_AFTER_IDLE_SECONDS:
                try:
                    conn.execute("SELECT 1")
                except psycopg.Error:
                    log.warning("database connection lost; reconnecting")
                    conn.close()
                    conn = None
        else:
            conn = None
        if conn is None:
            conn = self._conn = self._open()
        elif conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            # An earlier invocation left a transaction open: never let it poison this one.
            conn.rollback()
        self._last_used = time.monotonic()
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        with translate_errors():
            conn = self.connection()
            with conn.transaction():
                yield conn
        self._last_used = time.monotonic()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except pg_errors.UniqueViolation as exc:
        raise Conflict(
            _constraint_message(exc, "already exists"), details={"constraint": exc.diag.constraint_name}
        ) from exc
    except pg_errors.ForeignKeyViolation as exc:
        raise Conflict(
            _constraint_message(exc, "is still referenced or refers to a missing row"),
            details={"constraint": exc.diag.constraint_name},
        ) from exc
    except pg_errors.IntegrityError as exc:  # check, not-null, exclusion: the data breaks a rule
        raise Conflict(
            _constraint_message(exc, "breaks a rule of the data"),
            details={"constraint": exc.diag.constraint_name, "sqlstate": exc.sqlstate},
        ) from exc
    except psycopg.DataError as exc:  # a value the column's type cannot hold (range, format, jsonb)
        raise UnstorableValue(details={"sqlstate": exc.sqlstate}) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise DatabaseUnavailable() from exc
    except psycopg.Error as exc:
        # Any other driver error is ours, not the client's: logged whole, answered 503 with its SQLSTATE.
        log.error("database error %s: %s", exc.sqlstate, exc, exc_info=True)
        raise DatabaseFailed(details={"sqlstate": exc.sqlstate}) from exc


class UnstorableValue(BadRequest):
    code, message = "unstorable_value", "A value of the request cannot be stored (out of range or malformed)."


class DatabaseFailed(ServiceUnavailable):
    code, message = "database_error", "The database could not complete the request."


def _constraint_message(exc: psycopg.Error, what: str) -> str:
    table = exc.diag.table_name or "row"
    return f"A {table} row {what}."


@functools.cache
def get_database() -> Database:
    settings = get_settings()
    return Database(settings.require("database_url"), prepare_threshold=settings.db_prepare_threshold)


def one(cursor: psycopg.Cursor[R]) -> R:
    """The row of a statement that always returns one (an aggregate, an UPDATE ... RETURNING of a row
    locked before): never None."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError(f"the statement returned no row ({cursor.statusmessage})")
    return row


def update_columns(
    conn: Connection, table: str, row_id: Any, changes: dict[str, Any], *, bump_version: bool = False
) -> DictRow | None:
    """UPDATE one row's given columns (names as identifiers, values as parameters) and updated_at;
    returns the new row, or None when no row has that id."""
    assignments: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes
    ]
    assignments.append(sql.SQL("updated_at = now()"))
    if bump_version:
        assignments.append(sql.SQL("version = version + 1"))
    query = sql.SQL("UPDATE {} SET {} WHERE id = %(id)s RETURNING *").format(
        sql.Identifier(table), sql.SQL(", ").join(assignments)
    )
    return conn.execute(query, {**changes, "id": row_id}).fetchone()
