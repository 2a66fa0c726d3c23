"""SKUs are unique whatever their letter case (migrations/0015), as candidate matching has it, and a
price sort lists only priced products (the list and the export, both orders, across pages)."""

from __future__ import annotations

import csv
import io
import shutil

import psycopg
import pytest
import requests
from angebae.migrations import apply_migrations, migrations_dir
from catalog_support import Client, make_admin, walk_products
from catalog_support import create_product as create
from catalog_support import search_products as search
from support import load_function


@pytest.fixture
def editor(env, db):
    return Client(load_function("products"), make_admin(db, "editor"))


# --- SKUs --------------------------------------------------------------------------------------------


def test_a_sku_differing_only_in_case_is_409_duplicate_sku_naming_the_product(editor):
    first = create(editor, "Juguete uno", sku="TOY-1")
    response = editor.post("/products", body={"name": "Juguete dos", "sku": "toy-1"})
    assert response["statusCode"] == 409
    error = response["json"]["error"]
    assert error["code"] == "duplicate_sku"
    assert error["details"]["product_id"] == first["id"] and error["details"]["sku"] == "toy-1"
    assert "'TOY-1'" in error["message"] and "Juguete uno" in error["message"]
    assert search(editor, "toy-1") == ["Juguete uno"]


def test_renaming_a_sku_to_another_products_sku_in_other_case_is_409(editor):
    first = create(editor, "Juguete uno", sku="TOY-1")
    second = create(editor, "Juguete dos", sku="TOY-2")
    response = editor.patch("/products/{id}", id=second["id"], body={"sku": "Toy-1", "version": 1})
    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "duplicate_sku"
    assert response["json"]["error"]["details"]["product_id"] == first["id"]


def test_a_product_may_change_the_case_of_its_own_sku(editor):
    product = create(editor, "Juguete uno", sku="TOY-1")
    response = editor.patch("/products/{id}", id=product["id"], body={"sku": "toy-1", "version": 1})
    assert response["statusCode"] == 200 and response["json"]["sku"] == "toy-1"


def _migrations_before(tmp_path, version: int):
    for path in migrations_dir().glob("*.sql"):
        if int(path.name[:4]) < version:
            shutil.copy(path, tmp_path / path.name)


def test_the_migration_refuses_existing_skus_that_clash_in_case_and_changes_nothing(empty_database, tmp_path):
    _migrations_before(tmp_path, 15)
    apply_migrations(empty_database, tmp_path)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("""INSERT INTO products (name, slug, sku) VALUES ('A', 'a', 'TOY-1'),
                        ('B', 'b', 'toy-1'), ('C', 'c', 'Toy-1'),
                        ('D', 'd', 'ab-2'), ('E', 'e', 'AB-2'), ('F', 'f', 'X-9')""")
    shutil.copy(migrations_dir() / "0015_sku_case_insensitive.sql", tmp_path)
    with pytest.raises(psycopg.Error) as raised:
        apply_migrations(empty_database, tmp_path)
    message = str(raised.value)
    assert "differ only in letter case" in message
    assert "'AB-2', 'ab-2'" in message and "'TOY-1', 'Toy-1', 'toy-1'" in message and "X-9" not in message
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 14
        assert sorted(r[0] for r in conn.execute("SELECT sku FROM products")) == [
            "AB-2",
            "TOY-1",
            "Toy-1",
            "X-9",
            "ab-2",
            "toy-1",
        ]
        conn.execute("UPDATE products SET sku = NULL WHERE name IN ('B', 'C', 'E')")
        conn.commit()
    assert apply_migrations(empty_database, tmp_path) == ["0015_sku_case_insensitive"]


# --- price sort --------------------------------------------------------------------------------------

PRICED = [("Uno", "3"), ("Dos", "1"), ("Tres", "2"), ("Cuatro", "5"), ("Cinco", "4")]


@pytest.fixture
def priced(editor):
    for name, price in PRICED:
        create(editor, name, price=price, currency="EUR")
    create(editor, "Zorro", currency="EUR")  # a currency, no price
    create(editor, "Abeja", currency="EUR")
    create(editor, "Sin nada")
    create(editor, "Dólar", price="0.5", currency="USD")
    return editor


ASCENDING = ["Dos", "Tres", "Uno", "Cinco", "Cuatro"]


@pytest.mark.parametrize("limit", ["1", "2", "50"])
def test_a_price_sort_lists_only_priced_products_in_both_orders_across_pages(priced, limit):
    asc = walk_products(priced, {"currency": "EUR", "sort": "price", "limit": limit})
    desc = walk_products(priced, {"currency": "EUR", "sort": "price", "order": "desc", "limit": limit})
    assert [p["name"] for p in asc] == ASCENDING
    assert [p["name"] for p in desc] == ASCENDING[::-1]
    # the unpriced products are still listed by the other sorts
    assert {"Zorro", "Abeja"} <= {p["name"] for p in walk_products(priced, {"currency": "EUR"})}


def test_the_price_sorted_export_has_only_priced_products(aws, env, db):
    editor = Client(load_function("products"), make_admin(db, "editor"))
    for name, price in PRICED:
        create(editor, name, price=price, currency="EUR")
    create(editor, "Zorro", currency="EUR")
    for order, expected in (("asc", ASCENDING), ("desc", ASCENDING[::-1])):
        response = editor.get(
            "/products/export", query={"format": "csv", "currency": "EUR", "sort": "price", "order": order}
        )
        assert response["statusCode"] == 303, response["json"]
        body = requests.get(response["headers"]["Location"], timeout=10).content.decode("utf-8-sig")
        assert [r["name"] for r in csv.DictReader(io.StringIO(body))] == expected
        assert response["json"]["rows"] == len(expected)
