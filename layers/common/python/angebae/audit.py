"""The audit trail: one row per change, written in the same transaction as the change.

Each row names the address the request came from: `angebae.http` sets SOURCE_IP for the time a
route runs, so no caller has to pass it (a row written outside a request, by the worker or the CLI,
has none)."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from angebae.formats import json_default

SOURCE_IP: ContextVar[str | None] = ContextVar("audit_source_ip", default=None)


def record(
    conn: Connection[Any],
    *,
    action: str,
    entity: str,
    entity_id: object | None = None,
    actor: dict | None = None,
    before: dict | None = None,
    after: dict | None = None,
    source_ip: str | None = None,
) -> None:
    conn.execute(
        """INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, before, after, source_ip)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            actor["id"] if actor else None,
            actor["email"] if actor else None,
            action,
            entity,
            None if entity_id is None else str(entity_id),
            None if before is None else Jsonb(before, dumps=_dumps),
            None if after is None else Jsonb(after, dumps=_dumps),
            source_ip or SOURCE_IP.get(),
        ),
    )


def _dumps(obj) -> str:
    return json.dumps(obj, default=json_default)
