"""One money format, one quantity format and one time format in every response (issue 11): every GET
route over seeded rows answers money as a decimal string with 2 to 4 decimals, quantities as plain
decimals ("20", "6.5") and times as RFC 3339 UTC with a Z."""

from __future__ import annotations

import re

import pytest
from catalog_support import Client, make_admin, make_candidate
from support import load_function

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
TIME_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
MONEY = re.compile(r"^\d+\.\d{2,4}$")
MONEY_KEYS = {"price", "old", "new", "line_total", "old_price", "gross_price"}  # old/new: a change of price
QUANTITY = re.compile(r"^\d+(\.\d*[1-9])?$")
QUANTITY_KEYS = {"qty", "quantity", "price_basis_quantity"}


def check(value, path="") -> int:
    """Asserts the formats all through a JSON value; returns how many times and amounts it saw."""
    seen = 0
    if isinstance(value, dict):
        for key, item in value.items():
            if key in MONEY_KEYS and isinstance(item, str) and re.fullmatch(r"[\d.]+", item):
                assert MONEY.match(item), (f"{path}.{key}", item)
                seen += 1
            if key in QUANTITY_KEYS and isinstance(item, str):
                assert QUANTITY.match(item), (f"{path}.{key}", item)
                seen += 1
            seen += check(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            seen += check(item, f"{path}[{n}]")
    elif isinstance(value, str) and TIME_LIKE.match(value):
        assert RFC3339.match(value), (path, value)
        seen += 1
    return seen


@pytest.fixture
def seeded(aws, db):
    """An admin, a category, a media with a finished job and candidates, an accepted product."""
    admin = make_admin(db, "admin")
    clients = {
        name: Client(load_function(name), admin)
        for name in ("candidates", "products", "ocr_status", "upload", "admins", "categories")
    }
    category = clients["categories"].post("/categories", body={"name": "Juguetes"})["json"]
    accepted = make_candidate(db, name="Camión", price="1234.5600")
    pending = make_candidate(db, name="Tractor", price="10.0000", sku="TR-1")
    db.execute("UPDATE ocr_jobs SET started_at = now(), finished_at = now(), pages_total = 2")
    db.execute("UPDATE media SET status = 'uploaded'")
    product = clients["candidates"].post("/candidates/{id}/accept", id=accepted["id"], body={})["json"]
    clients["products"].post(
        "/products",
        body={"name": "Otro", "sku": "tr-1", "price": "7", "currency": "EUR", "category_id": category["id"]},
    )
    ticket = clients["upload"].post(
        "/media/uploads", body={"filename": "a.pdf", "size": 10, "content_type": "application/pdf"}
    )
    assert ticket["statusCode"] == 201, ticket["json"]
    check(ticket["json"])
    return {
        "clients": clients,
        "candidate": pending,
        "job_id": pending["job_id"],
        "media_id": pending["media_id"],
        "product": product["product"],
        "category": category,
        "admin": admin,
    }


ROUTES = [
    ("ocr_status", "/ocr/jobs", {}),
    ("ocr_status", "/ocr/jobs/{id}", {"id": "job_id"}),
    ("ocr_status", "/ocr/jobs/{id}/candidates", {"id": "job_id"}),
    ("candidates", "/candidates", {}),
    ("candidates", "/candidates/{id}", {"id": "candidate"}),
    ("products", "/products", {}),
    ("products", "/products/{id}", {"id": "product"}),
    ("upload", "/media", {}),
    ("upload", "/media/{id}", {"id": "media_id"}),
    ("admins", "/audit", {}),
    ("admins", "/admin/users", {}),
    ("admins", "/admin/users/{id}", {"id": "admin"}),
    ("categories", "/categories", {}),
    ("categories", "/categories/{id}", {"id": "category"}),
]


@pytest.mark.parametrize(("function", "route", "ids"), ROUTES, ids=[r[1] for r in ROUTES])
def test_every_route_answers_one_money_and_one_time_format(seeded, function, route, ids):
    values = {
        k: seeded[v]
        if isinstance(seeded[v], str)
        else str(seeded[v]["id"] if isinstance(seeded[v], dict) else seeded[v])
        for k, v in ids.items()
    }
    response = seeded["clients"][function].get(route, **values)
    assert response["statusCode"] == 200, response["json"]
    assert check(response["json"]) > 0  # it did carry times (and money where the route has any)


def test_the_job_and_its_candidates_print_money_alike(seeded):
    job = seeded["clients"]["ocr_status"].get("/ocr/jobs/{id}", id=str(seeded["job_id"]))["json"]
    [candidate] = job["candidates"]["items"]
    assert candidate["price"] == "10.00" and candidate["qty"] == "10"  # a quantity: a plain decimal
    assert job["timings"]["created_at"].endswith("Z")
    accepted = seeded["product"]
    assert accepted["price"] == "1234.56" and RFC3339.match(accepted["created_at"])


@pytest.mark.parametrize(("value", "expected"), [("12.5", -1), ("1E+3", 3), ("0.1234", -4), ("7", 0)])
def test_exponent_is_the_int_of_a_finite_decimal(value, expected):
    from decimal import Decimal

    from angebae.formats import exponent, money

    assert exponent(Decimal(value)) == expected
    assert money(Decimal("12.5")) == "12.50" and money(Decimal("0.1234")) == "0.1234"
    assert money(Decimal("11.99000")) == "11.99" and money(Decimal("4.99995")) == "5.00"
    assert money(Decimal("0.12345")) == "0.1235"


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_exponent_refuses_what_has_none(value):
    from decimal import Decimal

    from angebae.formats import exponent

    with pytest.raises(ValueError, match="not a finite decimal"):
        exponent(Decimal(value))
