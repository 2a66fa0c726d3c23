"""Request and response sizes are bounded (issue 13, item 4): a body over 1 MiB is 413, a JSON field
(attributes) over 32 KiB is 400 naming it, and a page of a list stops at 2 MiB of items whatever its
limit, so a function's answer stays under Lambda's 6 MB response limit (the body travels as a JSON
string inside it, where quotes and backslashes are escaped, so it can take up to twice its size)."""

from __future__ import annotations

import json

import pytest
from angebae.pagination import MAX_PAGE_BYTES
from catalog_support import Client, make_admin, make_candidate
from psycopg.types.json import Jsonb
from support import load_function

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


@pytest.fixture
def editor(env, db):
    return Client(load_function("products"), make_admin(db, "editor"))


def test_a_body_over_1_mib_is_413_before_it_is_parsed(editor):
    body = json.dumps({"name": "Aceite", "attributes": {"blob": "x" * (9 * 1024 * 1024)}})
    response = editor.post("/products", body=body, headers={"Content-Type": "application/json"})
    assert response["statusCode"] == 413 and response["json"]["error"]["code"] == "payload_too_large"


def test_attributes_over_32_kib_are_400_naming_the_field(editor, db):
    response = editor.post("/products", body={"name": "Aceite", "attributes": {"notes": "x" * 40_000}})
    assert response["statusCode"] == 400
    assert [f["field"] for f in response["json"]["error"]["details"]["fields"]] == ["attributes"]
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 0
    # AND the same bound holds on a candidate's attributes
    candidates = Client(load_function("candidates"), editor.admin)
    candidate = make_candidate(db)
    response = candidates.patch(
        "/candidates/{id}", id=candidate["id"], body={"attributes": {"n": "x" * 40_000}, "version": 1}
    )
    assert response["statusCode"] == 400


def test_attributes_of_32_kib_are_kept(editor):
    response = editor.post("/products", body={"name": "Aceite", "attributes": {"notes": "x" * 32_000}})
    assert response["statusCode"] == 201


def test_a_page_stops_at_its_byte_budget_and_the_cursor_reaches_every_row(editor, db):
    # GIVEN 200 products of about 30 KB each (6 MB in all), as rows stored before any bound existed
    db.execute(
        """INSERT INTO products (name, slug, attributes)
                  SELECT 'Producto ' || g, 'producto-' || g, %s FROM generate_series(1, 200) g""",
        (Jsonb({"notes": "x" * 30_000}),),
    )
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        response = editor.get("/products", query=query)
        assert response["statusCode"] == 200
        # THEN each page's items fit the budget, and the whole answer Lambda's limit even escaped
        items = response["json"]["items"]
        assert len(json.dumps(items)) <= MAX_PAGE_BYTES
        assert len(json.dumps(response)) < LAMBDA_RESPONSE_LIMIT
        seen += [p["id"] for p in items]
        pages += 1
        cursor = response["json"]["next_cursor"]
        if cursor is None:
            break
    # AND following the cursors returns every product once
    assert len(seen) == len(set(seen)) == 200 and pages >= 3
