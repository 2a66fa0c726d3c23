"""HTTP contract of issue 10: 401 names its scheme, Chalice's own errors in the project's shape, 201s
carry Location, and categories and admin users take the products' ETag/If-Match (strong, 428 without)."""

from __future__ import annotations

import pytest
from catalog_support import Client, make_admin
from support import call, load_function, rest_event

CATEGORY = "/categories/{id}"
USER = "/admin/users/{id}"
STRONG = "a long enough passphrase"


@pytest.fixture
def categories(env):
    return load_function("categories")


@pytest.fixture
def editor(categories, db):
    return Client(categories, make_admin(db, "editor"))


@pytest.fixture
def admin(env, db):
    return Client(load_function("admins"), make_admin(db, "admin"))


def test_a_401_names_the_bearer_scheme(categories):
    response = call(categories, rest_event("GET", "/categories"))
    assert response["statusCode"] == 401
    assert response["headers"]["WWW-Authenticate"] == 'Bearer realm="angebae"'
    assert response["json"]["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_chalices_own_415_comes_in_the_error_shape_with_cors(categories, editor, method):
    # GIVEN a content type the route does not take: Chalice answers before any view runs
    headers = {**editor.headers, "Content-Type": "text/plain", "Origin": "http://localhost:5173"}
    event = rest_event(method, "/categories", headers=headers, body="name=x" if method == "POST" else None)
    event["body"] = "name=x" if method == "POST" else None
    response = call(categories, event)
    # THEN 415 as {"error": {code, message}}, never Chalice's {"Code": ..., "Message": ...}
    assert response["statusCode"] == 415
    assert set(response["json"]) == {"error"}
    assert response["json"]["error"]["code"] == "unsupported_media_type"
    assert "text/plain" in response["json"]["error"]["message"]


def created_at_its_location(client, collection: str, body: dict) -> dict:
    """POST to a collection: 201, ETag "1", and a Location where a GET reads the same row."""
    created = client.post(collection, body=body)
    assert created["statusCode"] == 201
    row = created["json"]
    # the test events come through stage "Prod": the Location is where the client reads it
    assert created["headers"]["Location"] == f"/Prod{collection}/{row['id']}"
    assert created["headers"]["ETag"] == '"1"' and row["version"] == 1
    read = client.get(collection + "/{id}", id=row["id"])
    assert read["statusCode"] == 200 and read["headers"]["ETag"] == '"1"' and read["json"]["id"] == row["id"]
    return read["json"]


def test_a_created_category_has_its_location_and_etag(editor):
    assert created_at_its_location(editor, "/categories", {"name": "Herramientas"})["name"] == "Herramientas"


def test_a_category_change_without_if_match_or_version_is_428(editor):
    category = editor.post("/categories", body={"name": "A"})["json"]
    response = editor.patch(CATEGORY, id=category["id"], body={"name": "B"})
    assert response["statusCode"] == 428
    assert response["json"]["error"]["code"] == "version_required"
    assert editor.get(CATEGORY, id=category["id"])["json"]["name"] == "A"


def test_a_weak_if_match_never_matches(editor):
    # GIVEN the current ETag "1", sent as a weak tag: If-Match compares strongly (RFC 9110 13.1.1)
    category = editor.post("/categories", body={"name": "A"})["json"]
    response = editor.patch(CATEGORY, id=category["id"], body={"name": "B"}, headers={"If-Match": 'W/"1"'})
    assert response["statusCode"] == 412
    assert response["headers"]["ETag"] == '"1"'
    assert "weak" in response["json"]["error"]["details"]["reason"]
    assert editor.get(CATEGORY, id=category["id"])["json"]["name"] == "A"


def test_the_second_of_two_editors_who_read_the_same_category_is_refused(categories, db, editor):
    other = Client(categories, make_admin(db, "editor"))
    category = editor.post("/categories", body={"name": "A"})["json"]
    first = editor.patch(CATEGORY, id=category["id"], body={"name": "B"}, headers={"If-Match": '"1"'})
    assert first["statusCode"] == 200 and first["headers"]["ETag"] == '"2"'
    # WHEN the other editor sends the version they read, by header then in the body
    by_header = other.patch(CATEGORY, id=category["id"], body={"name": "C"}, headers={"If-Match": '"1"'})
    by_body = other.patch(CATEGORY, id=category["id"], body={"name": "C", "version": 1})
    # THEN 412 / 409 with the current version, and the first change stays
    assert by_header["statusCode"] == 412 and by_header["json"]["error"]["code"] == "stale_version"
    assert by_header["json"]["error"]["details"]["current_version"] == 2
    assert by_body["statusCode"] == 409 and by_body["json"]["error"]["code"] == "stale_version"
    assert editor.get(CATEGORY, id=category["id"])["json"]["name"] == "B"


@pytest.mark.parametrize("if_match", ['"7", "1"', "*"])
def test_an_if_match_list_or_star_matches_the_current_version(editor, if_match):
    category = editor.post("/categories", body={"name": "A"})["json"]
    response = editor.patch(CATEGORY, id=category["id"], body={"name": "B"}, headers={"If-Match": if_match})
    assert response["statusCode"] == 200 and response["json"]["version"] == 2


@pytest.mark.parametrize("if_match", ["1", '"1', '"1" junk', '"abc"'])
def test_an_if_match_that_is_not_an_entity_tag_is_400(editor, if_match):
    category = editor.post("/categories", body={"name": "A"})["json"]
    response = editor.patch(CATEGORY, id=category["id"], body={"name": "B"}, headers={"If-Match": if_match})
    assert response["statusCode"] == 400


def test_a_delete_with_a_stale_if_match_is_412_and_without_one_deletes(editor):
    category = editor.post("/categories", body={"name": "A"})["json"]
    editor.patch(CATEGORY, id=category["id"], body={"name": "B", "version": 1})
    stale = editor.delete(CATEGORY, id=category["id"], headers={"If-Match": '"1"'})
    assert stale["statusCode"] == 412
    assert editor.delete(CATEGORY, id=category["id"])["statusCode"] == 200
    assert editor.get(CATEGORY, id=category["id"])["statusCode"] == 404


def test_a_created_admin_user_has_its_location_and_etag(admin):
    user = created_at_its_location(admin, "/admin/users", {"email": "eva@example.com", "password": STRONG})
    assert user["email"] == "eva@example.com"


def test_admin_user_changes_take_if_match_strongly_and_428_without(admin):
    user = admin.post("/admin/users", body={"email": "eva@example.com", "password": STRONG})["json"]
    assert admin.patch(USER, id=user["id"], body={"role": "viewer"})["statusCode"] == 428
    weak = admin.patch(USER, id=user["id"], body={"role": "viewer"}, headers={"If-Match": 'W/"1"'})
    assert weak["statusCode"] == 412
    done = admin.patch(USER, id=user["id"], body={"role": "viewer"}, headers={"If-Match": '"1"'})
    assert done["statusCode"] == 200 and done["headers"]["ETag"] == '"2"'
    stale = admin.patch(USER, id=user["id"], body={"role": "admin"}, headers={"If-Match": '"1"'})
    assert stale["statusCode"] == 412 and stale["json"]["error"]["details"]["current_version"] == 2
    assert admin.get(USER, id=user["id"])["json"]["role"] == "viewer"


def test_a_created_product_has_its_location(env, db):
    editor = Client(load_function("products"), make_admin(db, "editor"))
    assert created_at_its_location(editor, "/products", {"name": "Martillo"})["name"] == "Martillo"


def test_a_bad_value_names_the_field_as_the_client_wrote_it_not_pydantic_s_type_tags():
    from angebae.http import field_name

    assert field_name(("status", "literal['pending','accepted']")) == "status"
    assert field_name(("items", 0, "price", "function-after[money(), str]")) == "items.0.price"
    assert field_name(("pages", 2)) == "pages.2"
    assert field_name(("int",)) == "int"  # a field may have any name; only later parts are tags
