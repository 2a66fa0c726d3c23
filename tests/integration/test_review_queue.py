"""GET /candidates, the review queue: candidates across jobs, filtered, sorted, keyset-paginated."""

from __future__ import annotations

import pytest
from catalog_support import Client, make_admin, make_candidate, make_media
from support import load_function


@pytest.fixture
def viewer(env, db):
    return Client(load_function("candidates"), make_admin(db, "viewer"))


@pytest.fixture
def seeded(db):
    """Two media; 12 candidates of varied confidence, some with a SKU, two decided."""
    media = [make_media(db), make_media(db)]
    made = []
    for n in range(12):
        c = make_candidate(
            db, name=f"Producto {n:02d}", media=media[n % 2], sku=f"SKU-{n}" if n % 3 == 0 else None
        )
        made.append(
            db.execute(
                "UPDATE product_candidates SET confidence = %s, created_at = now() + %s * "
                "interval '1 second' WHERE id = %s RETURNING *",
                (round(0.40 + n * 0.05, 2), n, c["id"]),
            ).fetchone()
        )
    db.execute(
        "UPDATE product_candidates SET status = 'rejected' WHERE id = ANY(%s)",
        ([made[1]["id"], made[2]["id"]],),
    )
    return media, made


def walk(client, query: dict) -> list[dict]:
    """Every page of the queue with this query; asserts each page is at most `limit` long."""
    items, cursor = [], None
    while True:
        response = client.get("/candidates", query={**query, **({"cursor": cursor} if cursor else {})})
        assert response["statusCode"] == 200, response["json"]
        page = response["json"]
        assert len(page["items"]) <= int(query.get("limit", 50))
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


def test_the_queue_holds_pending_candidates_of_every_job_newest_first(viewer, seeded):
    _, made = seeded
    items = walk(viewer, {"limit": "4"})
    expected = [str(c["id"]) for c in reversed(made) if c["id"] not in (made[1]["id"], made[2]["id"])]
    assert [c["id"] for c in items] == expected
    assert len({c["job_id"] for c in items}) == 10 and all(c["status"] == "pending" for c in items)
    assert all(c["price"] == "1.25" for c in items)


def test_filters_status_media_confidence_and_sku(viewer, seeded):
    media, made = seeded
    rejected = walk(viewer, {"status": "rejected"})
    assert {c["id"] for c in rejected} == {str(made[1]["id"]), str(made[2]["id"])}
    assert len(walk(viewer, {"status": "all", "limit": "5"})) == 12
    by_media = walk(viewer, {"media_id": str(media[0]["id"]), "status": "all"})
    assert {c["media_id"] for c in by_media} == {str(media[0]["id"])} and len(by_media) == 6
    by_job = walk(viewer, {"job_id": str(made[5]["job_id"])})
    assert [c["id"] for c in by_job] == [str(made[5]["id"])]
    sure = walk(viewer, {"min_confidence": "0.8", "max_confidence": "0.9"})
    assert sorted(c["confidence"] for c in sure) == pytest.approx([0.8, 0.85, 0.9])
    with_sku = walk(viewer, {"has_sku": "true", "status": "all"})
    assert sorted(c["sku"] for c in with_sku) == ["SKU-0", "SKU-3", "SKU-6", "SKU-9"]
    without = walk(viewer, {"has_sku": "false", "status": "all"})
    assert len(without) == 8 and all(c["sku"] is None for c in without)


def test_sorting_by_confidence_and_name_pages_through_every_row_once(viewer, seeded):
    least_sure = walk(viewer, {"sort": "confidence", "limit": "3", "status": "all"})
    confidences = [c["confidence"] for c in least_sure]
    assert confidences == sorted(confidences) and len(least_sure) == 12
    most_sure = walk(viewer, {"sort": "confidence", "order": "desc", "limit": "5", "status": "all"})
    assert [c["id"] for c in most_sure] == [c["id"] for c in reversed(least_sure)]
    names = [c["name"] for c in walk(viewer, {"sort": "name", "limit": "2"})]
    assert names == sorted(names) and len(names) == len(set(names)) == 10


def test_ties_in_the_sort_key_still_page_without_repeats(viewer, db):
    media = make_media(db)
    for _ in range(7):
        make_candidate(db, media=media)  # the same confidence, all of them
    items = walk(viewer, {"sort": "confidence", "limit": "2"})
    assert len(items) == len({c["id"] for c in items}) == 7


@pytest.mark.parametrize(
    "query",
    [
        {"status": "nope"},
        {"min_confidence": "2"},
        {"min_confidence": "0.9", "max_confidence": "0.1"},
        {"colour": "red"},
        {"cursor": "bm90IGEgY3Vyc29y"},
        {"sort": "price"},
        {"job_id": "x"},
    ],
)
def test_bad_queries_are_400(viewer, seeded, query):
    response = viewer.get("/candidates", query=query)
    assert response["statusCode"] == 400, response["json"]


def test_a_cursor_of_another_sort_is_400(viewer, seeded):
    first = viewer.get("/candidates", query={"limit": "2"})["json"]
    response = viewer.get("/candidates", query={"limit": "2", "sort": "name", "cursor": first["next_cursor"]})
    assert response["statusCode"] == 400


def test_the_queue_shows_proposals_and_needs_a_session(env, db):
    module = load_function("candidates")
    assert Client(module, None).get("/candidates")["statusCode"] == 401
    editor = Client(module, make_admin(db, "editor"))
    products = Client(load_function("products"), editor.admin)
    products.post("/products", body={"name": "Tractor", "sku": "TR-4410", "price": "5", "currency": "EUR"})
    make_candidate(db, name="Tractor", sku="tr-4410", price="6.0000")
    [item] = walk(editor, {})
    assert item["proposal"]["match"] == "sku"
    assert item["proposal"]["changes"] == {"price": {"old": "5.00", "new": "6.00"}}


def test_the_name_sort_folds_case_and_accents_as_the_catalog_does_and_pages(viewer, db):
    media = make_media(db)
    names = [
        "Wireless earbuds",
        "cs~Kunststoff-Ve",
        "Ábaco de madera",
        "Ñandú",
        "nube",
        "Zorro",
        "avión",
        "Abaco de madera",
    ]
    for name in names:
        make_candidate(db, name=name, media=media)
    expected = [
        "Abaco de madera",
        "Ábaco de madera",
        "avión",
        "cs~Kunststoff-Ve",
        "nube",
        "Ñandú",
        "Wireless earbuds",
        "Zorro",
    ]
    assert [c["name"] for c in walk(viewer, {"sort": "name", "limit": "3"})] == expected
    backwards = walk(viewer, {"sort": "name", "order": "desc", "limit": "2"})
    assert [c["name"] for c in backwards] == expected[::-1]
    # the same order /products?sort=name gives (the same search_sort_key)
    keys = db.execute(
        'SELECT n AS name FROM unnest(%s::text[]) n ORDER BY search_sort_key(n) COLLATE "C"', (names,)
    ).fetchall()
    assert [r["name"] for r in keys] == expected
