"""Keyset pagination: an opaque cursor holds the sort key of the last row returned (never OFFSET)."""

from __future__ import annotations

import base64
import json

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
    if not isinstance(values, list) or len(values) != size:
        raise BadRequest("The cursor is not valid.")
    return values


def page(rows: list[dict], limit: int, key) -> dict:
    """Given up to limit+1 rows, the page and the cursor of the next one (None at the end)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}
