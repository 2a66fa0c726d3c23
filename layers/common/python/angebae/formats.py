"""The one way the API writes money, quantities and times, in every response (issue 11): money as a
decimal string with 2 to 4 decimals ("1234.56", "0.1234"), quantities as a plain decimal ("20", "6.5"),
times as RFC 3339 in UTC with microseconds ("2026-12-02T00:21:40.123456Z"). `json_default` is what
`http.json_response` and the audit trail serialise with, so a route that hands over a raw database row
still answers in these formats."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

MONEY_PLACES = Decimal("0.0001")  # the database's numeric(14, 4)


def money(value: Decimal | None) -> str | None:
    """A decimal string with 2 to 4 decimals and never an exponent: "12.50", "0.1234", "10.00"; a value
    computed with more decimals (a quantity times a price) is rounded half up to 4."""
    if value is None:
        return None
    value = value.normalize()
    if exponent(value) < -4:
        value = value.quantize(MONEY_PLACES, ROUND_HALF_UP).normalize()
    if exponent(value) > -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


def quantity(value: Decimal | None) -> str | None:
    """A plain decimal, trailing zeros dropped, never an exponent: "20", "6.5", "0.125" (not "20.0000",
    "20.00" or "1E+1")."""
    if value is None:
        return None
    value = value.normalize()
    if exponent(value) > 0:
        value = value.quantize(Decimal(1))
    return format(value, "f")


def exponent(value: Decimal) -> int:
    """The exponent of a finite decimal (`as_tuple()` gives "n", "N" or "F" for NaN and infinity)."""
    found = value.as_tuple().exponent
    if not isinstance(found, int):
        raise ValueError(f"not a finite decimal: {value}")
    return found


def rfc3339(value: datetime | None) -> str | None:
    """An aware time in UTC, RFC 3339 with microseconds and a Z; a naive one is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def json_default(value):
    """json.dumps(default=...): money, times, dates, UUIDs as above; anything else as str()."""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)
