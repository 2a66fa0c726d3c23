"""JSON from outside (request bodies, cursors), parsed so that what comes back can be validated, stored
and sent again: standard JSON only, a bounded depth, finite numbers, text PostgreSQL can hold.

The standard library's `json.loads` takes `NaN`, `Infinity` and `1e400` (a float infinity), which
PostgreSQL's jsonb refuses (a driver error), and raises RecursionError on arrays nested about a
thousand deep; nesting a little less deep passes it and breaks whatever walks the value next (pydantic,
`json.dumps`, the driver). Its hooks refuse the constants and the infinities while it parses, and one
iterative walk afterwards refuses deep nesting and unstorable text, naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from angebae.errors import InvalidJson, ValidationFailed

# Deep enough for any attributes a person or the OCR writes, far below Python's recursion limit.
MAX_DEPTH = 32


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parsed JSON; InvalidJson (400) for anything else, ValidationFailed (400) for unstorable text."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidJson(f"The JSON is nested more than {max_depth} levels deep.") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidJson() from None
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than `max_depth` (InvalidJson) and text with a NUL or a lone surrogate
    (ValidationFailed naming the field), without recursion."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        children: Iterable[tuple[Any, Any]]
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth >= max_depth:
            raise InvalidJson(
                f"The JSON is nested more than {max_depth} levels deep.", details={"field": where or None}
            )
        for key, child in children:
            field = f"{where}.{key}" if where else str(key)
            for text in (key, child):
                if isinstance(text, str) and not storable(text):
                    raise ValidationFailed(
                        details={
                            "fields": [
                                {
                                    "field": field,
                                    "problem": "Text cannot contain NUL characters or lone surrogates.",
                                }
                            ]
                        }
                    )
            stack.append((child, field, depth + 1))


def storable(text: str) -> bool:
    """No NUL and no lone surrogate: PostgreSQL text cannot hold them (the driver would raise)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_constant(name: str):
    raise InvalidJson(f"{name} is not a JSON number; send finite numbers only.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"The number {text[:40]} is too large; send finite numbers only.")
    return value
