"""Hypothesis strategies for hostile input (issue 13): JSON nested past any sane depth, numbers JSON
cannot hold (NaN, Infinity, 1e400), pagination cursors of the right length holding the wrong things,
and validly signed tokens whose claims have odd types. Each draws raw text: what a client can send."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
from hypothesis import strategies as st

HOLE = "\x00hostile\x00"  # where the hostile text goes in a body; json.dumps quotes it
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999", "123456789e999"]
# 33: one past angebae.json_input.MAX_DEPTH; ~1,000 is where json.loads hits its recursion limit.
DEPTHS = [33, 200, 998, 1000, 1100, 20_000]


@st.composite
def deep_json(draw, depths: list[int] = DEPTHS) -> str:
    depth = draw(st.sampled_from(depths))
    kind = draw(st.sampled_from(["array", "object", "mixed"]))
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"a":[' * (depth // 2) + "1" + "]}" * (depth // 2)


def non_finite_json() -> st.SearchStrategy[str]:
    plain = st.sampled_from(NON_FINITE)
    return st.one_of(plain, plain.map(lambda n: f'{{"n": {n}}}'), plain.map(lambda n: f"[1, {n}]"))


def hostile_value() -> st.SearchStrategy[str]:
    return st.one_of(deep_json(), non_finite_json())


@st.composite
def hostile_body(draw, base: dict) -> str:
    """`base` (a body the route accepts) with one hostile value: the whole body, one of its fields,
    inside its attributes, or under a new key."""
    value = draw(hostile_value())
    where = draw(st.sampled_from(["whole", "field", "attributes", "new key"]))
    if where == "whole" or (where == "field" and not base):
        return value
    body = dict(base)
    key = {
        "field": lambda: draw(st.sampled_from(sorted(base))),
        "attributes": lambda: "attributes",
        "new key": lambda: "x",
    }[where]()
    body[key] = {"n": HOLE} if where == "attributes" else HOLE
    return json.dumps(body).replace(json.dumps(HOLE), value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@st.composite
def forged_cursor(draw) -> str:
    """A cursor we did not make: a list of the length a route expects (2 or 4) holding any JSON values
    (a list where a UUID goes, ...), deep nesting, non-finite numbers, or no base64/JSON at all."""
    kind = draw(st.sampled_from(["list", "list", "list", "deep", "non-finite", "noise"]))
    if kind == "list":
        size = draw(st.sampled_from([2, 4]))
        values = draw(st.lists(json_values, min_size=size, max_size=size))
        if size == 4 and draw(st.booleans()):  # the sort order right, so the key values are parsed
            values[:2] = draw(
                st.sampled_from(
                    [
                        ["name", "asc"],
                        ["price", "desc"],
                        ["created_at", "desc"],
                        ["updated_at", "asc"],
                        ["relevance", "desc"],
                    ]
                )
            )
        return _b64(json.dumps(values))
    if kind == "deep":  # within a URL's length (a cursor is a query parameter)
        return _b64(draw(deep_json([d for d in DEPTHS if d < 2000])))
    if kind == "non-finite":
        return _b64(f"[{draw(st.sampled_from(NON_FINITE))}, {draw(st.sampled_from(NON_FINITE))}]")
    return draw(st.text(alphabet="abcXYZ019-_=+/%.", min_size=1, max_size=40))


ODD_VALUES = st.one_of(
    st.sampled_from(
        [
            "1796167674",
            "abc",
            "",
            "1e308",
            1e308,
            1.5,
            10**19,
            -(10**19),
            True,
            False,
            None,
            [],
            [1],
            {"a": 1},
            float(2**53),
            253402300800,
        ]
    ),
    json_values.filter(lambda v: type(v) is not int),
)
STRICT_CLAIMS = ("exp", "iat", "sub", "jti")  # any odd value of these is a 401


@st.composite
def odd_token(
    draw, secret: str, admin: dict, issuer: str = "angebae", audience: str = "angebae-admin"
) -> tuple[str, str]:
    """(claim changed, token): a token signed with the real key for a real admin, one claim odd."""
    now = int(time.time())
    claims = {
        "sub": str(admin["id"]),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        "role": admin["role"],
        "gen": admin["session_generation"],
    }
    claim = draw(st.sampled_from([*STRICT_CLAIMS, "nbf", "gen", "role"]))
    claims[claim] = draw(ODD_VALUES)
    return claim, jwt.encode(claims, secret, algorithm="HS256")
