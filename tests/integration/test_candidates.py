"""From OCR candidates to products: correct, accept (new draft or proposed update by SKU), reject, bulk,
decisions taken once, roles, and audit rows in the same transaction."""

from __future__ import annotations

import pytest
from catalog_support import Client, make_admin, make_candidate, make_media
from support import load_function

ITEM = "/candidates/{id}"
ACCEPT = "/candidates/{id}/accept"
REJECT = "/candidates/{id}/reject"


@pytest.fixture
def editor(env, db):
    return Client(load_function("candidates"), make_admin(db, "editor"))


@pytest.fixture
def catalog(editor, db):
    """The products function, as the same editor."""
    return Client(load_function("products"), editor.admin)


def accept(client, candidate):
    return client.post(ACCEPT, id=candidate["id"], body={})


def test_accepting_makes_a_draft_product_linked_to_its_candidate_media_and_page(editor, db):
    candidate = make_candidate(db, name="Tornillo M8", price="1.2500", sku="T-M8", page=3)
    response = accept(editor, candidate)
    assert response["statusCode"] == 200, response["json"]
    product = response["json"]["product"]
    assert response["json"]["outcome"] == "created"
    assert product["status"] == "draft" and product["name"] == "Tornillo M8" and product["sku"] == "T-M8"
    assert product["price"] == "1.25" and product["currency"] == "EUR"
    assert product["source_candidate_id"] == str(candidate["id"])
    assert product["images"] == []  # the document is the source (attributes.source), not a photo
    assert product["attributes"]["source"]["page"] == 3
    assert product["attributes"]["source"]["media_id"] == str(candidate["media_id"])
    row = db.execute(
        "SELECT status, product_id, decided_by FROM product_candidates WHERE id = %s", (candidate["id"],)
    ).fetchone()
    assert row["status"] == "accepted" and str(row["product_id"]) == product["id"]
    assert row["decided_by"] == editor.admin["id"]


def test_a_corrected_candidate_is_accepted_with_the_corrections(editor, db):
    candidate = make_candidate(db, name="Tornilo M8", price="1.25")
    patched = editor.patch(
        ITEM, id=candidate["id"], body={"name": "Tornillo M8", "price": "1.30", "sku": "T-M8", "version": 1}
    )
    assert patched["statusCode"] == 200
    assert patched["json"]["name"] == "Tornillo M8" and patched["json"]["price"] == "1.30"
    product = accept(editor, candidate)["json"]["product"]
    assert (product["name"], product["price"], product["sku"]) == ("Tornillo M8", "1.30", "T-M8")
    audit = db.execute(
        "SELECT before, after FROM audit_log WHERE entity = 'candidate' AND action = 'update'"
    ).fetchone()
    assert audit["before"]["name"] == "Tornilo M8" and audit["after"]["name"] == "Tornillo M8"


def product_with(catalog, **fields):
    body = {"name": "Tornillo M8", "sku": "T-M8", "price": "1.00", "currency": "EUR", **fields}
    response = catalog.post("/products", body=body)
    assert response["statusCode"] == 201, response["json"]
    return response["json"]


def test_a_candidate_with_the_sku_of_a_product_proposes_an_update_of_it(editor, catalog, db):
    product = product_with(catalog)
    candidate = make_candidate(db, name="Tornillo M8 zincado", price="1.2500", sku="T-M8")
    shown = editor.get(ITEM, id=candidate["id"])["json"]
    assert shown["proposal"] == {
        "product_id": product["id"],
        "product_version": 1,
        "product_status": "draft",
        "match": "sku",
        "changes": {
            "name": {"old": "Tornillo M8", "new": "Tornillo M8 zincado"},
            "price": {"old": "1.00", "new": "1.25"},
        },
        "choices": ["update", "create", "skip"],
    }


def test_sku_matching_ignores_case(editor, catalog, db):
    product = product_with(catalog, sku="TR-4410", name="Tractor")
    candidate = make_candidate(db, name="Tractor", price="9.00", sku="tr-4410")
    shown = editor.get(ITEM, id=candidate["id"])["json"]
    assert shown["proposal"]["product_id"] == product["id"] and shown["proposal"]["match"] == "sku"
    assert shown["proposal"]["changes"] == {"price": {"old": "1.00", "new": "9.00"}}  # the SKU stays


def test_accepting_a_match_without_a_choice_changes_nothing_and_answers_the_diff(editor, catalog, db):
    product = product_with(catalog, status="active")
    candidate = make_candidate(db, name="Tornillo M8", price="1.2500", sku="t-m8")
    response = accept(editor, candidate)
    assert response["statusCode"] == 409, response["json"]
    error = response["json"]["error"]
    assert error["code"] == "choice_required"
    assert error["details"]["proposal"]["changes"] == {"price": {"old": "1.00", "new": "1.25"}}
    assert error["details"]["proposal"]["product_status"] == "active"
    after = catalog.get("/products/{id}", id=product["id"])["json"]
    assert (after["price"], after["version"]) == ("1.00", 1)
    row = db.execute("SELECT status FROM product_candidates WHERE id = %s", (candidate["id"],)).fetchone()
    assert row["status"] == "pending"
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 1
    bulk = editor.post("/candidates/bulk", body={"action": "accept", "ids": [str(candidate["id"])]})
    assert bulk["json"]["results"][0]["status"] == 409
    assert catalog.get("/products/{id}", id=product["id"])["json"]["price"] == "1.00"


def test_accepting_a_proposal_updates_the_product_and_audits_the_old_values(editor, catalog, db):
    product = product_with(catalog, status="active")
    candidate = make_candidate(db, name="Tornillo M8", price="1.2500", sku="T-M8")
    response = editor.post(ACCEPT, id=candidate["id"], body={"choice": "update", "product_version": 1})
    assert response["statusCode"] == 200, response["json"]
    assert response["json"]["outcome"] == "updated"
    updated = catalog.get("/products/{id}", id=product["id"])["json"]
    assert updated["price"] == "1.25" and updated["version"] == 2 and updated["status"] == "active"
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 1
    audit = db.execute(
        "SELECT before, after FROM audit_log WHERE action = 'update_from_candidate'"
    ).fetchone()
    assert audit["before"] == {"price": "1.00", "version": 1}
    assert audit["after"] == {"price": "1.25", "version": 2}
    linked = db.execute(
        "SELECT product_id FROM product_candidates WHERE id = %s", (candidate["id"],)
    ).fetchone()
    assert str(linked["product_id"]) == product["id"]


def test_an_update_of_a_product_changed_since_the_proposal_is_refused(editor, catalog, db):
    product = product_with(catalog)
    candidate = make_candidate(db, name="Tornillo M8", price="1.2500", sku="T-M8")
    catalog.patch("/products/{id}", id=product["id"], body={"version": 1, "price": "1.10"})
    response = editor.post(ACCEPT, id=candidate["id"], body={"choice": "update", "product_version": 1})
    assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "stale_version"
    assert response["json"]["error"]["details"]["proposal"]["product_version"] == 2
    assert catalog.get("/products/{id}", id=product["id"])["json"]["price"] == "1.10"


def choose(editor, catalog, db, choice: str, **candidate_fields) -> tuple[dict, dict]:
    """An active product T-M8, a candidate with its SKU, accepted with the choice: (product, answer)."""
    product = product_with(catalog, status="active")
    candidate = make_candidate(db, sku="T-M8", **candidate_fields)
    response = editor.post(ACCEPT, id=candidate["id"], body={"choice": choice})
    assert response["statusCode"] == 200, response["json"]
    return product, response["json"]


def test_choosing_create_makes_another_product_without_the_taken_sku(editor, catalog, db):
    product, answer = choose(editor, catalog, db, "create", name="Tornillo M8 inox", price="2.0000")
    created = answer["product"]
    assert answer["outcome"] == "created" and created["id"] != product["id"]
    assert created["sku"] is None and created["attributes"]["source"]["sku"] == "T-M8"
    assert catalog.get("/products/{id}", id=product["id"])["json"]["price"] == "1.00"


def test_choosing_skip_rejects_the_candidate_and_leaves_the_product(editor, catalog, db):
    product, answer = choose(editor, catalog, db, "skip", name="Tornillo M8", price="3.0000")
    assert answer["outcome"] == "skipped"
    assert answer["candidate"]["status"] == "rejected"
    assert answer["candidate"]["product_id"] == product["id"]
    assert catalog.get("/products/{id}", id=product["id"])["json"]["version"] == 1
    assert db.execute("SELECT 1 FROM audit_log WHERE action = 'skip'").fetchone()


def test_update_or_skip_without_a_match_is_409(editor, db):
    candidate = make_candidate(db, sku="NEW-1")
    for choice in ("update", "skip"):
        response = editor.post(ACCEPT, id=candidate["id"], body={"choice": choice})
        assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "no_match"
    assert editor.post(ACCEPT, id=candidate["id"], body={"choice": "nope"})["statusCode"] == 400


def test_a_candidate_without_sku_accepted_again_from_a_rerun_is_offered_as_a_duplicate(editor, db):
    media = make_media(db)
    first = make_candidate(db, name="Muñeca  de trapo", price="4.5000", media=media)
    assert accept(editor, first)["json"]["outcome"] == "created"
    again = make_candidate(db, name="muneca de trapo.", price="4.9000", media=media)
    response = accept(editor, again)
    assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "choice_required"
    proposal = response["json"]["error"]["details"]["proposal"]
    assert proposal["match"] == "name"
    assert proposal["changes"]["price"] == {"old": "4.50", "new": "4.90"}
    # the same name from another document (and no supplier in common) is not a duplicate
    other = make_candidate(db, name="Muñeca de trapo", price="4.5000")
    assert accept(editor, other)["json"]["outcome"] == "created"
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 2


def test_a_same_named_product_of_the_same_supplier_is_a_likely_duplicate(editor, catalog, db):
    product = product_with(catalog, sku=None, name="Pingüino", attributes={"supplier": "Juguetes SL"})
    candidate = make_candidate(db, name="pinguino", price="1.0000")
    db.execute(
        'UPDATE product_candidates SET attributes = \'{"supplier": "Juguetes SL"}\' WHERE id = %s',
        (candidate["id"],),
    )
    shown = editor.get(ITEM, id=candidate["id"])["json"]
    assert shown["proposal"]["product_id"] == product["id"] and shown["proposal"]["match"] == "name"


def test_accepting_twice_is_409(editor, db):
    candidate = make_candidate(db)
    assert accept(editor, candidate)["statusCode"] == 200
    response = accept(editor, candidate)
    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "candidate_decided"
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 1


def test_a_rejected_candidate_cannot_be_accepted_or_edited(editor, db):
    candidate = make_candidate(db)
    rejected = editor.post(REJECT, id=candidate["id"], body={})
    assert rejected["statusCode"] == 200 and rejected["json"]["candidate"]["status"] == "rejected"
    assert accept(editor, candidate)["statusCode"] == 409
    assert editor.patch(ITEM, id=candidate["id"], body={"name": "X"})["statusCode"] == 409
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 0


def test_accept_without_a_json_content_type_is_415(editor, db):
    candidate = make_candidate(db)
    assert editor.post(ACCEPT, id=candidate["id"])["statusCode"] == 415


def test_an_unknown_candidate_is_404(editor):
    assert accept(editor, {"id": "00000000-0000-0000-0000-000000000000"})["statusCode"] == 404
    assert editor.get(ITEM, id="nope")["statusCode"] == 404


def test_a_candidate_price_without_a_currency_must_be_corrected_before_accepting(editor, db):
    candidate = make_candidate(db, currency=None)
    assert accept(editor, candidate)["statusCode"] == 400
    editor.patch(ITEM, id=candidate["id"], body={"currency": "MXN", "version": 1})
    assert accept(editor, candidate)["json"]["product"]["currency"] == "MXN"


def test_bulk_accept_reports_one_result_per_id(editor, db):
    first, second = make_candidate(db, name="Uno"), make_candidate(db, name="Dos")
    rejected = make_candidate(db, name="Tres")
    editor.post(REJECT, id=rejected["id"], body={})
    missing = "00000000-0000-0000-0000-000000000000"
    response = editor.post(
        "/candidates/bulk",
        body={"action": "accept", "ids": [str(first["id"]), str(rejected["id"]), missing, str(second["id"])]},
    )
    assert response["statusCode"] == 200
    results = {r["id"]: r for r in response["json"]["results"]}
    assert [results[str(c["id"])]["status"] for c in (first, rejected, second)] == [200, 409, 200]
    assert results[missing]["status"] == 404
    assert results[str(first["id"])]["product"]["name"] == "Uno"
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 2


def test_bulk_reject_rejects_each_pending_candidate(editor, db):
    ids = [str(make_candidate(db)["id"]) for _ in range(3)]
    response = editor.post("/candidates/bulk", body={"action": "reject", "ids": ids})
    assert [r["status"] for r in response["json"]["results"]] == [200, 200, 200]
    statuses = db.execute("SELECT DISTINCT status FROM product_candidates").fetchall()
    assert statuses == [{"status": "rejected"}]


def test_decisions_are_audited_with_the_actor(editor, db):
    accepted, rejected = make_candidate(db), make_candidate(db)
    accept(editor, accepted)
    editor.post(REJECT, id=rejected["id"], body={})
    rows = db.execute(
        "SELECT action, entity, entity_id, actor_id, after FROM audit_log "
        "WHERE entity = 'candidate' ORDER BY id"
    ).fetchall()
    assert [(r["action"], r["entity_id"]) for r in rows] == [
        ("accept", str(accepted["id"])),
        ("reject", str(rejected["id"])),
    ]
    assert {r["actor_id"] for r in rows} == {editor.admin["id"]}
    assert db.execute("SELECT 1 FROM audit_log WHERE action = 'create_from_candidate'").fetchone()


def test_a_failed_audit_write_leaves_the_candidate_pending_and_no_product(editor, db):
    candidate = make_candidate(db)
    db.execute("""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                  $$ BEGIN RAISE EXCEPTION 'audit is down'; END $$""")
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse()")
    assert accept(editor, candidate)["statusCode"] == 503  # a driver error it does not know: 503, not 500
    assert db.execute("SELECT status FROM product_candidates").fetchone()["status"] == "pending"
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 0


def test_a_viewer_sees_candidates_but_cannot_decide(editor, db):
    candidate = make_candidate(db)
    viewer = Client(editor.module, make_admin(db, "viewer"))
    assert viewer.get(ITEM, id=candidate["id"])["statusCode"] == 200
    assert accept(viewer, candidate)["statusCode"] == 403
    assert viewer.post(REJECT, id=candidate["id"], body={})["statusCode"] == 403
    assert viewer.patch(ITEM, id=candidate["id"], body={"name": "X"})["statusCode"] == 403
    assert (
        viewer.post("/candidates/bulk", body={"action": "reject", "ids": [str(candidate["id"])]})[
            "statusCode"
        ]
        == 403
    )


# --- reopening decisions, archiving what an accept made ---------------------------------------------

REOPEN = "/candidates/{id}/reopen"


def test_a_rejected_candidate_is_reopened_audited_and_can_then_be_accepted(editor, db):
    candidate = make_candidate(db)
    editor.post(REJECT, id=candidate["id"], body={})
    response = editor.post(REOPEN, id=candidate["id"], body={})
    assert response["statusCode"] == 200, response["json"]
    assert response["json"]["candidate"]["status"] == "pending" and response["json"]["product"] is None
    audit = db.execute("SELECT before, after, actor_id FROM audit_log WHERE action = 'reopen'").fetchone()
    assert audit["before"]["status"] == "rejected" and audit["after"]["status"] == "pending"
    assert audit["actor_id"] == editor.admin["id"]
    assert accept(editor, candidate)["json"]["outcome"] == "created"


def test_reopening_an_accept_can_archive_the_product_it_created(editor, catalog, db):
    candidate = make_candidate(db, name="Camión de juguete")
    product = accept(editor, candidate)["json"]["product"]
    response = editor.post(REOPEN, id=candidate["id"], body={"archive_product": True})
    assert response["statusCode"] == 200, response["json"]
    assert response["json"]["product"]["status"] == "archived"
    assert response["json"]["candidate"]["product_id"] is None
    assert catalog.get("/products/{id}", id=product["id"])["json"]["status"] == "archived"
    # no candidate refers to it any more: it can now be deleted for good
    assert catalog.delete("/products/{id}", id=product["id"], query={"hard": "true"})["statusCode"] == 200
    assert (
        db.execute("SELECT before->>'product_id' AS p FROM audit_log WHERE action = 'reopen'").fetchone()["p"]
        == product["id"]
    )


def test_a_product_created_from_a_candidate_can_be_archived(editor, catalog, db):
    product = accept(editor, make_candidate(db))["json"]["product"]
    response = catalog.delete("/products/{id}", id=product["id"])
    assert response["statusCode"] == 200 and response["json"]["status"] == "archived"


def test_archive_product_refuses_a_product_the_candidate_only_updated(editor, catalog, db):
    product = product_with(catalog)
    candidate = make_candidate(db, sku="T-M8", price="2.0000")
    editor.post(ACCEPT, id=candidate["id"], body={"choice": "update", "product_version": 1})
    response = editor.post(REOPEN, id=candidate["id"], body={"archive_product": True})
    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "product_not_created_by_candidate"
    assert catalog.get("/products/{id}", id=product["id"])["json"]["status"] == "draft"
    assert (
        db.execute("SELECT status FROM product_candidates WHERE id = %s", (candidate["id"],)).fetchone()[
            "status"
        ]
        == "accepted"
    )


def test_a_pending_candidate_cannot_be_reopened_and_a_viewer_cannot_reopen(editor, db):
    candidate = make_candidate(db)
    response = editor.post(REOPEN, id=candidate["id"], body={})
    assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "candidate_pending"
    editor.post(REJECT, id=candidate["id"], body={})
    viewer = Client(editor.module, make_admin(db, "viewer"))
    assert viewer.post(REOPEN, id=candidate["id"], body={})["statusCode"] == 403


def test_a_superseded_candidate_can_be_reopened(editor, db):
    candidate = make_candidate(db)
    db.execute(
        "UPDATE product_candidates SET status = 'superseded', superseded_by = job_id WHERE id = %s",
        (candidate["id"],),
    )
    response = editor.post(REOPEN, id=candidate["id"], body={})
    assert response["json"]["candidate"]["status"] == "pending"
    assert response["json"]["candidate"]["superseded_by"] is None


# --- issue 11 review: what accepts leave behind, versions, formats, reasons, undoing updates ----------


def test_an_accept_never_makes_the_source_document_a_product_image(aws, editor, catalog, db):
    media = make_media(db)
    db.execute("UPDATE media SET bucket = %s WHERE id = %s", (aws["bucket"], media["id"]))
    made = [
        accept(editor, make_candidate(db, name=f"Pieza {n}", sku=f"P-{n}", media=media))["json"]
        for n in range(3)
    ]
    assert [m["product"]["images"] for m in made] == [[], [], []]
    assert made[0]["product"]["attributes"]["source"]["media_id"] == str(media["id"])
    product = product_with(catalog)  # T-M8
    updating = make_candidate(db, sku="T-M8", price="2.0000", media=media)
    updated = editor.post(ACCEPT, id=updating["id"], body={"choice": "update", "product_version": 1})
    assert updated["json"]["outcome"] == "updated" and updated["json"]["product"]["images"] == []
    assert catalog.get("/products/{id}", id=product["id"])["json"]["images"] == []
    # nothing holds the catalog PDF as an image: deleting it is not refused as media_in_use
    deleted = Client(load_function("upload"), editor.admin).delete("/media/{id}", id=media["id"])
    assert deleted["statusCode"] == 200, deleted["json"]


def test_update_needs_the_version_read_as_patch_does(editor, catalog, db):
    product_with(catalog)
    candidate = make_candidate(db, sku="T-M8", price="2.0000")
    missing = editor.post(ACCEPT, id=candidate["id"], body={"choice": "update"})
    assert missing["statusCode"] == 428, missing["json"]
    error = missing["json"]["error"]
    assert error["code"] == "version_required" and "product_version" in error["message"]
    assert error["details"]["current_version"] == 1 and error["details"]["proposal"]["product_version"] == 1
    wrong = editor.post(ACCEPT, id=candidate["id"], body={"choice": "update", "product_version": 7})
    assert wrong["statusCode"] == 409 and wrong["json"]["error"]["code"] == "stale_version"
    assert "not the product's current one" in wrong["json"]["error"]["message"]
    assert "changed since" not in wrong["json"]["error"]["message"]
    assert wrong["json"]["error"]["details"]["current_version"] == 1
    assert wrong["json"]["error"]["details"]["your_version"] == 7
    assert wrong["headers"]["ETag"] == '"1"'
    stale_header = editor.post(
        ACCEPT, id=candidate["id"], body={"choice": "update"}, headers={"If-Match": '"7"'}
    )
    assert stale_header["statusCode"] == 412 and stale_header["headers"]["ETag"] == '"1"'
    assert (
        db.execute("SELECT status FROM product_candidates WHERE id = %s", (candidate["id"],)).fetchone()[
            "status"
        ]
        == "pending"
    )
    by_header = editor.post(
        ACCEPT, id=candidate["id"], body={"choice": "update"}, headers={"If-Match": '"1"'}
    )
    assert by_header["statusCode"] == 200 and by_header["json"]["product"]["price"] == "2.00"
    bulk = editor.post(
        "/candidates/bulk", body={"action": "accept", "ids": [str(candidate["id"])], "choice": "update"}
    )
    assert bulk["statusCode"] == 400  # update names each product's version: one by one


def test_quantities_and_money_attributes_have_one_format(editor, db):
    candidate = make_candidate(db, name="Auriculares", price="11.9900")
    db.execute(
        """UPDATE product_candidates SET qty = 20.0000,
                         attributes = '{"line_total": "11.99000", "old_price": "15.79000", "unit": "EA"}'
                  WHERE id = %s""",
        (candidate["id"],),
    )
    shown = editor.get(ITEM, id=candidate["id"])["json"]
    assert shown["qty"] == "20"
    assert shown["attributes"] == {"line_total": "11.99", "old_price": "15.79", "unit": "EA"}
    product = accept(editor, candidate)["json"]["product"]
    assert product["attributes"]["source"]["quantity"] == "20"
    assert product["attributes"]["line_total"] == "11.99" and product["attributes"]["old_price"] == "15.79"


def test_a_reject_takes_an_optional_reason_stored_audited_and_shown(editor, db):
    candidate = make_candidate(db)
    response = editor.post(REJECT, id=candidate["id"], body={"reason": " dup "})
    assert response["statusCode"] == 200, response["json"]
    assert response["json"]["candidate"]["decision_reason"] == "dup"
    assert editor.get(ITEM, id=candidate["id"])["json"]["decision_reason"] == "dup"
    audit = db.execute("SELECT after FROM audit_log WHERE action = 'reject'").fetchone()
    assert audit["after"]["reason"] == "dup"
    plain = make_candidate(db)
    assert editor.post(REJECT, id=plain["id"], body={})["json"]["candidate"]["decision_reason"] is None
    for bad in ({"reason": "x" * 201}, {"reason": "  "}, {"reason": 3}, {"why": "dup"}):
        assert editor.post(REJECT, id=make_candidate(db)["id"], body=bad)["statusCode"] == 400, bad
    reopened = editor.post(REOPEN, id=candidate["id"], body={})["json"]["candidate"]
    assert reopened["decision_reason"] is None


def test_reopening_an_update_accept_restores_the_product_it_left_unchanged(editor, catalog, db):
    product = product_with(catalog, status="active")
    candidate = make_candidate(db, name="Tornillo M8 zincado", price="1.2500", sku="T-M8")
    accepted = editor.post(ACCEPT, id=candidate["id"], body={"choice": "update", "product_version": 1})
    assert accepted["json"]["candidate"]["applied_changes"]["version"] == 2
    response = editor.post(REOPEN, id=candidate["id"], body={})
    assert response["statusCode"] == 200, response["json"]
    undo = response["json"]["undo"]
    assert undo["outcome"] == "reverted" and undo["product_version"] == 3
    assert undo["changes"] == {
        "name": {"old": "Tornillo M8", "new": "Tornillo M8 zincado"},
        "price": {"old": "1.00", "new": "1.25"},
    }
    after = catalog.get("/products/{id}", id=product["id"])["json"]
    assert (after["name"], after["price"], after["status"]) == ("Tornillo M8", "1.00", "active")
    audit = db.execute(
        "SELECT before, after FROM audit_log WHERE action = 'revert_from_candidate'"
    ).fetchone()
    assert audit["before"]["price"] == "1.25" and audit["after"]["price"] == "1.00"
    assert (
        db.execute("SELECT after->'undo'->>'outcome' AS o FROM audit_log WHERE action = 'reopen'").fetchone()[
            "o"
        ]
        == "reverted"
    )


def test_reopening_an_update_accept_keeps_changes_the_product_has_moved_on_from(editor, catalog, db):
    product = product_with(catalog, status="active")
    candidate = make_candidate(db, price="1.2500", sku="T-M8")
    editor.post(ACCEPT, id=candidate["id"], body={"choice": "update", "product_version": 1})
    catalog.patch("/products/{id}", id=product["id"], body={"version": 2, "stock": 5})
    undo = editor.post(REOPEN, id=candidate["id"], body={})["json"]["undo"]
    assert undo["outcome"] == "kept" and undo["product_version"] == 3
    assert undo["changes"]["price"] == {"old": "1.00", "new": "1.25"}
    after = catalog.get("/products/{id}", id=product["id"])["json"]
    assert (after["price"], after["version"]) == ("1.25", 3)  # NOT undone, and the answer says so


def test_a_rerun_copy_of_a_decided_item_shows_its_decision_and_can_be_reopened(editor, db):
    from angebae.jobs.runner import supersede_earlier

    media = make_media(db)
    first = make_candidate(db, name="Muñeca de trapo", price="4.5000", sku="MU-1", media=media)
    product = accept(editor, first)["json"]["product"]
    copy = make_candidate(db, name="muneca  de trapo", price="4.5000", sku="mu-1", media=media)
    other = make_candidate(db, name="Muñeca de trapo", price="4.9000", sku="MU-1", media=media)  # a new price
    for candidate in (copy, other):
        job = db.execute("SELECT * FROM ocr_jobs WHERE id = %s", (candidate["job_id"],)).fetchone()
        supersede_earlier(db, job)
    shown = editor.get(ITEM, id=copy["id"])["json"]
    assert (shown["status"], shown["duplicate_of"], shown["product_id"]) == (
        "superseded",
        str(first["id"]),
        product["id"],
    )
    assert editor.get(ITEM, id=other["id"])["json"]["status"] == "pending"
    assert [
        c["id"] for c in editor.get("/candidates", query={"media_id": str(media["id"])})["json"]["items"]
    ] == [str(other["id"])]
    reopened = editor.post(REOPEN, id=copy["id"], body={})["json"]["candidate"]
    assert (reopened["status"], reopened["duplicate_of"], reopened["product_id"]) == ("pending", None, None)


def test_a_correction_names_the_version_read_so_a_second_reviewer_cannot_overwrite_the_first(editor, db):
    # GIVEN a candidate two reviewers read at version 1
    candidate = make_candidate(db, name="Tornilo", price="1.25")
    read = editor.get(ITEM, id=candidate["id"])
    assert read["headers"]["ETag"] == '"1"' and read["json"]["version"] == 1
    # WHEN the first corrects it (If-Match) and the second sends the same stale version
    first = editor.patch(ITEM, id=candidate["id"], body={"name": "Tornillo"}, headers={"If-Match": '"1"'})
    second = editor.patch(ITEM, id=candidate["id"], body={"name": "Tornilla", "version": 1})
    # THEN the first lands (version 2), the second is refused naming the current version, nothing lost
    assert (first["statusCode"], first["headers"]["ETag"], first["json"]["version"]) == (200, '"2"', 2)
    assert (second["statusCode"], second["json"]["error"]["code"]) == (409, "stale_version")
    # AND a correction naming no version is 428, as PATCH /products
    missing = editor.patch(ITEM, id=candidate["id"], body={"name": "X"})
    assert (missing["statusCode"], missing["json"]["error"]["code"]) == (428, "version_required")
    assert editor.get(ITEM, id=candidate["id"])["json"]["name"] == "Tornillo"
