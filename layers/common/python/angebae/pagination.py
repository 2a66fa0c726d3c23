"""Keyset pagination: an opaque cursor holds the sort key of the last row returned (never OFFSET)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from .errors import BadRequest

MAX_LIMIT = 200


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list | None:
    """The values encoded by `encode_cursor`; 400 when the cursor was not made by us."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid.") from None
    if not isinstance(values, list) or len(values) != size or not all(map(_storable, values)):
        raise BadRequest("The cursor is not valid.")
    return values


def _storable(value) -> bool:
    """No NUL and no lone surrogate: PostgreSQL text cannot hold them (the driver would raise)."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def time_key_cursor(cursor: str | None, key=uuid.UUID) -> tuple[datetime | None, object]:
    """A (timestamp, key) keyset cursor, checked: 400 for anything we did not make. `key` parses the
    second value (a UUID by default) and raises ValueError or TypeError when it is not one."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None, None
    try:
        return datetime.fromisoformat(values[0]), key(values[1])
    except (TypeError, ValueError, AttributeError):
        raise BadRequest("The cursor is not valid.") from None


def page(rows: list[dict], limit: int, key) -> dict:
    """Given up to limit+1 rows, the page and the cursor of the next one (None at the end)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}
