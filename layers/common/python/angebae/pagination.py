"""Keyset pagination: an opaque cursor holds the sort key of the last row returned (never OFFSET).

A cursor comes back from the client, so it is input like any other: `decode_cursor` parses it as
safe JSON (`json_input`), checks it is a list with one value per parser, and runs each value through
its parser; any value a parser cannot take (a list where a UUID was, a string where a number was) is
400, whatever exception the parser raised.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime

from angebae import json_input
from angebae.errors import BadRequest

MAX_LIMIT = 200
# The items of one page, as JSON. A function's answer carries the body as a JSON string, where each
# quote and backslash is escaped: at most twice this, under Lambda's 6 MB response limit.
MAX_PAGE_BYTES = 2 * 1024 * 1024
# What a parser raises for a value of the wrong type or range: TypeError, ValueError (binascii's
# errors too), AttributeError (uuid.UUID of a list), ArithmeticError (OverflowError, Decimal's).
_NOT_A_KEY = (TypeError, ValueError, AttributeError, ArithmeticError)


class InvalidCursor(BadRequest):
    message = "The cursor is not valid."


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *parsers: Callable) -> list | None:
    """The values encoded by `encode_cursor`, each through its parser; 400 when we did not make it."""
    if not cursor:
        return None
    try:
        values = json_input.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (BadRequest, *_NOT_A_KEY):
        raise InvalidCursor() from None
    if not isinstance(values, list) or len(values) != len(parsers):
        raise InvalidCursor()
    return [parse_key(parse, value) for parse, value in zip(parsers, values, strict=True)]


def parse_key(parse: Callable, value):
    """One value of a cursor through its parser; 400 whatever the parser raised."""
    try:
        return parse(value)
    except _NOT_A_KEY:
        raise InvalidCursor() from None


def anything(value):
    return value


def text(value) -> str:
    if not isinstance(value, str) or not json_input.storable(value):
        raise ValueError("not text")
    return value


def uuid_key(value) -> uuid.UUID:
    return uuid.UUID(text(value))


def timestamp(value) -> datetime:
    return datetime.fromisoformat(text(value))


def time_key_cursor(cursor: str | None, key: Callable = uuid_key) -> tuple[datetime | None, object]:
    """A (timestamp, key) keyset cursor, checked: 400 for anything we did not make. `key` parses the
    second value (a UUID by default)."""
    values = decode_cursor(cursor, timestamp, key)
    return (None, None) if values is None else (values[0], values[1])


def page(rows: list[dict], limit: int, key) -> dict:
    """Given up to limit+1 rows, the page and the cursor of the next one (None at the end). The page
    also ends before the row that would take its items past MAX_PAGE_BYTES of JSON (it always holds
    one row, so a cursor always moves on)."""
    more = len(rows) > limit
    rows = rows[:limit]
    size = 0
    for n, row in enumerate(rows):
        size += len(json.dumps(row, default=str)) + 2  # as json_response writes it, and ", "
        if size > MAX_PAGE_BYTES and n > 0:
            rows, more = rows[:n], True
            break
    return {"items": rows, "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}


def sorted_after(cursor: str | None, sort: str, order: str, parse: Callable) -> tuple | None:
    """The (sort key, id) a sorted list's cursor goes on after, or None on the first page; a cursor of
    another sort or order is 400. Cursors are made by `sorted_page`."""
    after = decode_cursor(cursor, text, text, anything, uuid_key)
    if after is None:
        return None
    if after[:2] != [sort, order]:
        raise BadRequest("The cursor belongs to another sort order.")
    return parse_key(parse, after[2]), after[3]


def sorted_page(rows: list[dict], limit: int, sort: str, order: str) -> dict:
    """A page of rows carrying their "sort_key" (left out of the items), its cursor naming the sort."""
    result = page(rows, limit, lambda r: [sort, order, r["sort_key"], str(r["id"])])
    result["items"] = [{k: v for k, v in r.items() if k != "sort_key"} for r in result["items"]]
    return result
