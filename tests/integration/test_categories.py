"""Categories: a tree of any depth, cycles refused, deletes of categories in use refused, roles, audit."""

from __future__ import annotations

import pytest
from catalog_support import Client, make_admin
from support import load_function

ITEM = "/categories/{id}"


@pytest.fixture
def editor(env, db):
    return Client(load_function("categories"), make_admin(db, "editor"))


def create(client, name, parent=None):
    response = client.post("/categories", body={"name": name, "parent_id": parent and parent["id"]})
    assert response["statusCode"] == 201, response["json"]
    return response["json"]


def test_categories_nest_several_levels_and_list_with_their_parents(editor):
    tools = create(editor, "Herramientas")
    hand = create(editor, "Herramientas de mano", tools)
    keys = create(editor, "Llaves", hand)
    items = {c["id"]: c for c in editor.get("/categories")["json"]["items"]}
    assert items[keys["id"]]["parent_id"] == hand["id"]
    assert items[hand["id"]]["parent_id"] == tools["id"]
    assert items[tools["id"]]["parent_id"] is None
    assert keys["slug"] == "llaves"


def test_same_names_get_distinct_slugs(editor):
    assert [create(editor, "Ofertas")["slug"] for _ in range(2)] == ["ofertas", "ofertas-2"]


def test_an_unknown_parent_is_400(editor):
    missing = "00000000-0000-0000-0000-000000000000"
    response = editor.post("/categories", body={"name": "X", "parent_id": missing})
    assert response["statusCode"] == 400


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_moving_a_category_under_itself_or_a_descendant_is_refused(editor, depth):
    chain = [create(editor, "Raíz")]
    for i in range(depth):
        chain.append(create(editor, f"Nivel {i}", chain[-1]))
    response = editor.patch(ITEM, id=chain[0]["id"], body={"parent_id": chain[-1]["id"], "version": 1})
    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "category_cycle"


def test_moving_and_renaming_a_category_is_audited(editor, db):
    a, b = create(editor, "A"), create(editor, "B")
    response = editor.patch(ITEM, id=b["id"], body={"parent_id": a["id"], "name": "B2", "version": 1})
    assert response["statusCode"] == 200
    assert response["json"]["parent_id"] == a["id"] and response["json"]["name"] == "B2"
    audit = db.execute("SELECT before, after FROM audit_log WHERE action = 'update'").fetchone()
    assert audit["before"] == {"name": "B", "parent_id": None, "version": 1}
    assert audit["after"] == {"name": "B2", "parent_id": a["id"], "version": 2}


def test_a_null_parent_moves_a_category_to_the_top(editor):
    a = create(editor, "A")
    b = create(editor, "B", a)
    assert editor.patch(ITEM, id=b["id"], body={"parent_id": None, "version": 1})["json"]["parent_id"] is None


def test_deleting_a_category_with_subcategories_is_409(editor):
    parent = create(editor, "Padre")
    create(editor, "Hijo", parent)
    response = editor.delete(ITEM, id=parent["id"])
    assert response["statusCode"] == 409
    assert response["json"]["error"]["details"] == {"products": 0, "subcategories": 1}


def test_deleting_a_category_with_products_is_409(editor, db):
    category = create(editor, "Usada")
    db.execute("INSERT INTO products (name, slug, category_id) VALUES ('P', 'p', %s)", (category["id"],))
    response = editor.delete(ITEM, id=category["id"])
    assert response["statusCode"] == 409
    assert response["json"]["error"]["details"]["products"] == 1


def test_deleting_an_unused_category_removes_it_and_audits_it(editor, db):
    category = create(editor, "Vacía")
    assert editor.delete(ITEM, id=category["id"])["statusCode"] == 200
    assert editor.get("/categories")["json"]["items"] == []
    assert (
        db.execute("SELECT before FROM audit_log WHERE action = 'delete'").fetchone()["before"]["id"]
        == category["id"]
    )


def test_an_unknown_category_is_404(editor):
    missing = "00000000-0000-0000-0000-000000000000"
    assert editor.patch(ITEM, id=missing, body={"name": "X", "version": 1})["statusCode"] == 404
    assert editor.delete(ITEM, id=missing)["statusCode"] == 404


def test_a_viewer_lists_but_cannot_change_categories(editor, db):
    category = create(editor, "A")
    viewer = Client(editor.module, make_admin(db, "viewer"))
    assert viewer.get("/categories")["statusCode"] == 200
    assert viewer.post("/categories", body={"name": "X"})["statusCode"] == 403
    assert viewer.patch(ITEM, id=category["id"], body={"name": "X"})["statusCode"] == 403
    assert viewer.delete(ITEM, id=category["id"])["statusCode"] == 403
