"""Products: CRUD, unique slugs and SKUs, versions, archive/delete, keyset listing and filters, roles,
and the audit row written in the same transaction as each change."""

from __future__ import annotations

import pytest
from catalog_support import Client, make_admin, make_candidate, make_media
from catalog_support import create_product as create
from catalog_support import search_products as search
from catalog_support import walk_products as walk
from support import load_function

ITEM = "/products/{id}"


@pytest.fixture
def fn(env):
    return load_function("products")


@pytest.fixture
def editor(fn, db):
    return Client(fn, make_admin(db, "editor"))


# --- create ------------------------------------------------------------------------------------------


def test_creating_a_product_returns_it_with_a_slug_version_1_and_money_as_a_string(editor):
    response = editor.post(
        "/products",
        body={"name": "Camión de bomberos", "price": "12.5", "currency": "EUR", "sku": "CB-1", "stock": 3},
    )
    assert response["statusCode"] == 201
    product = response["json"]
    assert product["slug"] == "camion-de-bomberos"
    assert product["price"] == "12.50" and product["currency"] == "EUR"
    assert product["version"] == 1 and response["headers"]["ETag"] == '"1"'
    assert product["status"] == "draft"


def test_a_second_product_with_the_same_name_gets_a_suffixed_slug(editor):
    slugs = [create(editor, "Camión rojo")["slug"] for _ in range(3)]
    assert slugs == ["camion-rojo", "camion-rojo-2", "camion-rojo-3"]


def test_a_duplicate_sku_is_409_naming_the_product_that_has_it(editor):
    first = create(editor, "Tornillo M8", sku="T-M8")
    response = editor.post("/products", body={"name": "Otro tornillo", "sku": "T-M8"})
    assert response["statusCode"] == 409
    error = response["json"]["error"]
    assert error["code"] == "duplicate_sku"
    assert error["details"]["product_id"] == first["id"]
    assert "Tornillo M8" in error["message"]


def test_changing_a_sku_to_one_already_used_is_409_naming_the_other_product(editor):
    first = create(editor, "Tornillo M8", sku="T-M8")
    second = create(editor, "Tuerca M8", sku="N-M8")
    response = editor.patch(ITEM, id=second["id"], body={"sku": "T-M8", "version": 1})
    assert response["statusCode"] == 409
    assert response["json"]["error"]["details"]["product_id"] == first["id"]


def test_products_without_a_sku_never_clash(editor):
    create(editor, "Uno")
    create(editor, "Dos")


@pytest.mark.parametrize(
    "fields,problem_field",
    [
        ({"price": 12.5, "currency": "EUR"}, "price"),
        ({"price": "12.50", "currency": "XYZ"}, "currency"),
        ({"price": "12.50", "currency": "xau"}, "currency"),
        ({"price": "12.50", "currency": "EURO"}, "currency"),
        ({"price": "1,234.50", "currency": "EUR"}, "price"),
        ({"price": "12,5,0", "currency": "EUR"}, "price"),
        ({"price": "-1", "currency": "EUR"}, "price"),
        ({"price": "1.23456", "currency": "EUR"}, "price"),
    ],
)
def test_money_must_be_a_decimal_string_with_an_iso_currency(editor, fields, problem_field):
    response = editor.post("/products", body={"name": "X", **fields})
    assert response["statusCode"] == 400
    assert response["json"]["error"]["details"]["fields"][0]["field"].startswith(problem_field)


@pytest.mark.parametrize(
    "typed,kept",
    [("12,50", "12.50"), ("1.234,5", "1234.50"), (" 0,0125 ", "0.0125"), ("7", "7.00"), ("12.5", "12.50")],
)
@pytest.mark.parametrize("currency", ["eur", " Eur ", "EUR"])
def test_a_decimal_comma_and_a_currency_in_any_case_are_taken(editor, typed, kept, currency):
    product = create(editor, "X", price=typed, currency=currency)
    assert (product["price"], product["currency"]) == (kept, "EUR")
    patched = editor.patch(ITEM, id=product["id"], body={"version": 1, "price": "3,25", "currency": "mxn"})
    assert (patched["json"]["price"], patched["json"]["currency"]) == ("3.25", "MXN")
    listed = editor.get("/products", query={"min_price": "3,25", "max_price": "3,25", "currency": "mxn"})[
        "json"
    ]["items"]
    assert [p["id"] for p in listed] == [product["id"]]


def test_a_candidate_is_corrected_with_a_decimal_comma_and_a_lower_case_currency(env, db):
    editor = Client(load_function("candidates"), make_admin(db, "editor"))
    candidate = make_candidate(db)
    body = {"price": "12,50", "currency": "usd", "qty": "2,5", "version": 1}
    response = editor.patch("/candidates/{id}", id=candidate["id"], body=body)
    assert response["statusCode"] == 200, response["json"]
    assert (response["json"]["price"], response["json"]["currency"]) == ("12.50", "USD")
    assert response["json"]["qty"] == "2.5"  # a quantity: a plain decimal
    refused = editor.patch("/candidates/{id}", id=candidate["id"], body={"currency": "XYZ"})
    assert refused["statusCode"] == 400 and "ISO 4217" in refused["json"]["error"]["message"] + str(
        refused["json"]["error"].get("details")
    )


def test_a_price_without_a_currency_is_400(editor):
    assert editor.post("/products", body={"name": "X", "price": "3.00"})["statusCode"] == 400


def test_an_unknown_category_or_image_is_400_not_a_server_error(editor):
    assert (
        editor.post("/products", body={"name": "X", "category_id": "00000000-0000-0000-0000-000000000000"})[
            "statusCode"
        ]
        == 400
    )
    assert (
        editor.post("/products", body={"name": "X", "images": ["00000000-0000-0000-0000-000000000000"]})[
            "statusCode"
        ]
        == 400
    )


def test_images_are_kept_in_the_order_given(editor, db):
    first, second = make_media(db), make_media(db)
    product = create(editor, images=[str(second["id"]), str(first["id"])])
    assert product["images"] == [str(second["id"]), str(first["id"])]


def test_a_form_body_is_415(editor):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = editor.post("/products", body="name=X", headers=form)
    assert response["statusCode"] == 415


def test_injection_payloads_are_stored_as_literal_text(editor):
    payload = "x'); DROP TABLE products; --"
    product = create(editor, payload, sku=payload, description="' OR 1=1 --")
    fetched = editor.get(ITEM, id=product["id"])["json"]
    assert fetched["name"] == payload and fetched["sku"] == payload
    assert editor.get("/products", query={"q": payload})["statusCode"] == 200


# --- read --------------------------------------------------------------------------------------------


def test_getting_a_product_returns_it_with_its_etag(editor):
    product = create(editor)
    response = editor.get(ITEM, id=product["id"])
    assert response["statusCode"] == 200
    assert response["json"] == product
    assert response["headers"]["ETag"] == '"1"'


@pytest.mark.parametrize("product_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_an_unknown_product_is_404(editor, product_id):
    assert editor.get(ITEM, id=product_id)["statusCode"] == 404


# --- versions ----------------------------------------------------------------------------------------


def test_patch_with_the_current_version_applies_and_bumps_the_version(editor, db):
    product = create(editor, price="10", currency="EUR")
    response = editor.patch(ITEM, id=product["id"], body={"price": "11.99", "version": 1})
    assert response["statusCode"] == 200
    assert response["json"]["price"] == "11.99" and response["json"]["version"] == 2
    row = db.execute("SELECT before, after FROM audit_log WHERE action = 'update'").fetchone()
    assert row["before"] == {"price": "10.00", "version": 1}
    assert row["after"] == {"price": "11.99", "version": 2}


@pytest.mark.parametrize("if_match", ['"\u00b2"', '"\u0663"', '"abc"', '"' + "9" * 5000 + '"'])
def test_an_if_match_that_is_not_a_version_is_400(editor, if_match):
    # GIVEN non-ASCII digits (superscript two, Arabic-Indic three), letters, more digits than int() reads
    product = create(editor, "Martillo")
    response = editor.patch(ITEM, id=product["id"], body={"stock": 5}, headers={"If-Match": if_match})
    assert response["statusCode"] == 400, response["json"]


def test_a_stale_if_match_is_412_with_the_current_version(editor):
    product = create(editor)
    editor.patch(ITEM, id=product["id"], body={"stock": 5}, headers={"If-Match": '"1"'})
    response = editor.patch(ITEM, id=product["id"], body={"stock": 7}, headers={"If-Match": '"1"'})
    assert response["statusCode"] == 412
    assert response["json"]["error"]["details"]["current_version"] == 2
    assert response["headers"]["ETag"] == '"2"'


def test_two_editors_with_the_same_version_the_second_gets_409_and_nothing_is_overwritten(fn, db, editor):
    other = Client(fn, make_admin(db, "editor"))
    product = create(editor, stock=1)
    assert editor.patch(ITEM, id=product["id"], body={"stock": 2, "version": 1})["statusCode"] == 200
    response = other.patch(ITEM, id=product["id"], body={"stock": 3, "version": 1})
    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "stale_version"
    assert response["json"]["error"]["details"]["current_version"] == 2
    assert editor.get(ITEM, id=product["id"])["json"]["stock"] == 2


def test_patch_without_any_version_is_428(editor):
    product = create(editor)
    response = editor.patch(ITEM, id=product["id"], body={"stock": 2})
    assert response["statusCode"] == 428
    assert response["json"]["error"]["code"] == "version_required"


def test_nulls_in_patch_clear_optional_fields_and_are_refused_for_required_ones(editor):
    product = create(editor, sku="A-1")
    cleared = editor.patch(ITEM, id=product["id"], body={"sku": None, "version": 1})
    assert cleared["statusCode"] == 200 and cleared["json"]["sku"] is None
    nameless = editor.patch(ITEM, id=product["id"], body={"name": None, "version": 2})
    assert nameless["statusCode"] == 400


# --- archive and delete ------------------------------------------------------------------------------


def test_delete_archives_the_product_and_the_default_list_hides_it(editor, db):
    product = create(editor)
    response = editor.delete(ITEM, id=product["id"])
    assert response["statusCode"] == 200 and response["json"]["status"] == "archived"
    assert editor.get("/products")["json"]["items"] == []
    archived = editor.get("/products", query={"status": "archived"})["json"]["items"]
    assert [p["id"] for p in archived] == [product["id"]]
    assert db.execute("SELECT action FROM audit_log WHERE action = 'archive'").fetchone()


def test_hard_delete_removes_a_product_nothing_refers_to(editor, db):
    product = create(editor, images=[str(make_media(db)["id"])])
    response = editor.delete(ITEM, id=product["id"], query={"hard": "true"})
    assert response["statusCode"] == 200
    assert editor.get(ITEM, id=product["id"])["statusCode"] == 404
    audit = db.execute("SELECT before FROM audit_log WHERE action = 'delete'").fetchone()
    assert audit["before"]["id"] == product["id"]


def test_hard_delete_of_a_product_a_candidate_refers_to_is_409(editor, db):
    product = create(editor)
    candidate = make_candidate(db)
    db.execute(
        "UPDATE product_candidates SET product_id = %s WHERE id = %s", (product["id"], candidate["id"])
    )
    response = editor.delete(ITEM, id=product["id"], query={"hard": "true"})
    assert response["statusCode"] == 409
    assert editor.get(ITEM, id=product["id"])["statusCode"] == 200


# --- list, sort, filters, pagination ------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["name", "price", "created_at", "updated_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_keyset_pages_return_every_product_once_in_order_with_ties_broken_by_id(editor, sort, order):
    # GIVEN products sharing names and prices (ties), and one without a price
    for i in range(7):
        create(editor, f"Producto {i % 3}", price=str(i % 2 + 1), currency="EUR")
    create(editor, "Sin precio")
    # prices sort within one currency (the unpriced product has none)
    currency = {"currency": "EUR"} if sort == "price" else {}
    items = walk(editor, {"sort": sort, "order": order, "limit": "3", **currency})
    expected = 7 if sort == "price" else 8
    assert len(items) == expected and len({p["id"] for p in items}) == expected

    def key(p):
        value = p[sort] if sort != "price" else float(p["price"] or -1)
        return (value, p["id"])

    assert items == sorted(items, key=key, reverse=order == "desc")


def test_a_cursor_from_another_sort_or_forged_is_400(editor):
    for i in range(3):
        create(editor, f"P{i}")
    cursor = editor.get("/products", query={"sort": "name", "limit": "1"})["json"]["next_cursor"]
    assert editor.get("/products", query={"sort": "price", "cursor": cursor})["statusCode"] == 400
    assert editor.get("/products", query={"cursor": "bm90IGEgY3Vyc29y"})["statusCode"] == 400
    from angebae.pagination import encode_cursor

    some_id = "8a5c7a4e-0000-4000-8000-000000000000"
    huge = encode_cursor(["price", "asc", "1e999999", some_id])
    assert editor.get("/products", query={"sort": "price", "cursor": huge})["statusCode"] == 400
    huge = encode_cursor(["relevance", "desc", 1e300, some_id])
    assert editor.get("/products", query={"q": "p", "cursor": huge})["statusCode"] == 400
    for text in ("P\u0000", "P\ud800"):  # no text column holds a NUL or a lone surrogate
        unstorable = encode_cursor(["name", "asc", text, some_id])
        assert editor.get("/products", query={"sort": "name", "cursor": unstorable})["statusCode"] == 400


def test_filters_by_status_price_range_and_sku(editor):
    cheap = create(editor, "Barato", price="5", currency="EUR", sku="B-1", status="active")
    create(editor, "Caro", price="500", currency="EUR", status="active")
    create(editor, "Borrador", price="50", currency="EUR")
    create(editor, "Sin precio", status="active")

    def names(query):
        return sorted(p["name"] for p in walk(editor, query))

    assert names({"status": "active"}) == ["Barato", "Caro", "Sin precio"]
    assert names({"min_price": "10", "max_price": "100", "currency": "EUR"}) == ["Borrador"]
    assert names({"max_price": "100", "currency": "eur"}) == ["Barato", "Borrador"]
    assert names({"has_sku": "true"}) == [cheap["name"]]
    assert names({"has_sku": "false", "status": "active"}) == ["Caro", "Sin precio"]


def test_category_filter_includes_subcategories_only_when_asked(editor, db):
    parent = db.execute(
        "INSERT INTO categories (name, slug) VALUES ('Herramientas', 'h') RETURNING id"
    ).fetchone()
    child = db.execute(
        "INSERT INTO categories (name, slug, parent_id) VALUES ('Llaves', 'l', %s) RETURNING id",
        (parent["id"],),
    ).fetchone()
    create(editor, "Martillo", category_id=str(parent["id"]))
    create(editor, "Llave inglesa", category_id=str(child["id"]))
    create(editor, "Sin categoría")
    direct = walk(editor, {"category": str(parent["id"])})
    deep = walk(editor, {"category": str(parent["id"]), "include_subcategories": "true"})
    assert [p["name"] for p in direct] == ["Martillo"]
    assert sorted(p["name"] for p in deep) == ["Llave inglesa", "Martillo"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1000"},
        {"sort": "color"},
        {"status": "gone"},
        {"min_price": "abc"},
        {"sort": "relevance"},
        {"unknown": "1"},
        {"min_price": "10", "max_price": "5", "currency": "EUR"},
    ],
)
def test_invalid_list_parameters_are_400(editor, query):
    assert editor.get("/products", query=query)["statusCode"] == 400


# --- roles -------------------------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write(fn, db, editor):
    product = create(editor)
    viewer = Client(fn, make_admin(db, "viewer"))
    assert viewer.get("/products")["statusCode"] == 200
    assert viewer.get(ITEM, id=product["id"])["statusCode"] == 200
    assert viewer.post("/products", body={"name": "X"})["statusCode"] == 403
    assert viewer.patch(ITEM, id=product["id"], body={"stock": 1, "version": 1})["statusCode"] == 403
    assert viewer.delete(ITEM, id=product["id"])["statusCode"] == 403


def test_without_a_session_every_route_is_401(fn):
    anonymous = Client(fn, None)
    assert anonymous.get("/products")["statusCode"] == 401
    assert anonymous.post("/products", body={"name": "X"})["statusCode"] == 401


# --- audit in the same transaction -------------------------------------------------------------------


def test_each_change_writes_one_audit_row_with_the_actor(editor, db):
    product = create(editor)
    editor.patch(ITEM, id=product["id"], body={"stock": 4, "version": 1})
    editor.delete(ITEM, id=product["id"])
    rows = db.execute("SELECT action, actor_id, entity, entity_id FROM audit_log ORDER BY id").fetchall()
    assert [r["action"] for r in rows] == ["create", "update", "archive"]
    assert {r["actor_id"] for r in rows} == {editor.admin["id"]}
    assert {(r["entity"], r["entity_id"]) for r in rows} == {("product", product["id"])}


def test_when_the_audit_row_cannot_be_written_the_change_is_rolled_back(editor, db):
    # GIVEN audit_log refuses inserts
    db.execute("""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                  $$ BEGIN RAISE EXCEPTION 'audit is down'; END $$""")
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse()")
    response = editor.post("/products", body={"name": "Sin rastro"})
    # THEN a driver error the edge does not know is a 503 with its reason, never a bare 500
    assert response["statusCode"] == 503 and response["json"]["error"]["code"] == "database_error"
    assert response["json"]["error"]["details"] == {"sqlstate": "P0001"}
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 0


# --- search: full text (Spanish + English), accent-insensitive, ranked, typos with or without pg_trgm ---

CATALOG = [
    ("Camión de juguete rojo", "Vehículo de plástico"),
    ("Toy truck", "Plastic vehicle for kids"),
    ("Destornillador plano", "Acero templado"),
    ("Tornillo hexagonal M8", "Caja de 100 unidades"),
    ("Caja de herramientas", "Incluye un camión de regalo"),
]


@pytest.fixture(params=["with_pg_trgm", "without_pg_trgm"])
def searcher(request, db, env):
    """An editor on a database with pg_trgm installed, or one where it was dropped (its index with it)."""
    present = db.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()
    if request.param == "with_pg_trgm" and not present:
        pytest.skip("this PostgreSQL has no pg_trgm")
    if request.param == "without_pg_trgm" and present:
        db.execute("DROP EXTENSION pg_trgm CASCADE")
    client = Client(load_function("products"), make_admin(db, "editor"))
    for name, description in CATALOG:
        create(client, name, description=description)
    return client


@pytest.mark.parametrize("q", ["camion", "CAMIÓN", "Camion", "camión"])
def test_search_ignores_accents_and_case(searcher, q):
    assert search(searcher, q)[0] == "Camión de juguete rojo"


def test_search_stems_spanish_and_english_words(searcher):
    assert "Camión de juguete rojo" in search(searcher, "camiones")
    assert search(searcher, "trucks") == ["Toy truck"]
    assert search(searcher, "vehicles") == ["Toy truck"]


def test_search_matches_word_prefixes(searcher):
    assert search(searcher, "destorn") == ["Destornillador plano"]
    assert search(searcher, "herram") == ["Caja de herramientas"]


def test_search_ranks_name_matches_above_description_matches(searcher):
    assert search(searcher, "camion") == ["Camión de juguete rojo", "Caja de herramientas"]


def test_search_pages_by_relevance_without_repeats(searcher):
    first = searcher.get("/products", query={"q": "caja", "limit": "1"})["json"]
    second = searcher.get("/products", query={"q": "caja", "limit": "1", "cursor": first["next_cursor"]})[
        "json"
    ]
    names = [p["name"] for p in first["items"] + second["items"]]
    assert sorted(names) == ["Caja de herramientas", "Tornillo hexagonal M8"]
    assert second["next_cursor"] is None


def test_search_combines_with_filters(searcher):
    assert search(searcher, "camion", status="active") == []


def test_typos_match_with_or_without_pg_trgm(searcher):
    assert search(searcher, "tornilo hexagonl") == ["Tornillo hexagonal M8"]


def test_a_query_of_punctuation_only_returns_nothing_rather_than_failing(searcher):
    assert search(searcher, "&|!:*()'") == []


def test_search_works_on_a_server_that_never_had_pg_trgm(tmp_path_factory, monkeypatch, env):
    """The embedded pgserver ships no contrib extensions: migrations apply and search still answers."""
    pgserver = pytest.importorskip("pgserver")
    import psycopg
    from angebae.migrations import apply_migrations

    server = pgserver.get_server(tmp_path_factory.mktemp("pgserver"), cleanup_mode="stop")
    try:
        url = server.get_uri()
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
            assert not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()
            monkeypatch.setenv("DATABASE_URL", url)
            client = Client(load_function("products"), make_admin(conn, "editor"))
            for name, description in CATALOG:
                create(client, name, description=description)
            assert search(client, "camion") == ["Camión de juguete rojo", "Caja de herramientas"]
            assert search(client, "destorn") == ["Destornillador plano"]
            assert search(client, "tornilo hexagonl") == ["Tornillo hexagonal M8"]
        from angebae.db import get_database

        get_database().close()
    finally:
        server.cleanup()
