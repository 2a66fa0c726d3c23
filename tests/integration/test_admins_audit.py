"""Admin users (admins only), role checks across functions, and the audit trail reader."""

from __future__ import annotations

import pytest
from angebae.auth.passwords import verify_password
from catalog_support import Client, make_admin
from support import load_function

USER = "/admin/users/{id}"
STRONG = "a long and unusual passphrase"


@pytest.fixture
def fn(env):
    return load_function("admins")


@pytest.fixture
def admin(fn, db):
    return Client(fn, make_admin(db, "admin", "root@example.com"))


def test_an_admin_creates_a_user_with_a_bcrypt_hash_and_the_change_is_audited(admin, db):
    body = {"email": "Eva@Example.com", "password": STRONG, "role": "editor"}
    response = admin.post("/admin/users", body=body)
    assert response["statusCode"] == 201
    user = response["json"]
    assert user["email"] == "eva@example.com" and user["role"] == "editor" and user["is_active"]
    assert "password_hash" not in user
    row = db.execute("SELECT password_hash FROM admin_users WHERE email = 'eva@example.com'").fetchone()
    assert row["password_hash"].startswith("$2b$10$") and verify_password(STRONG, row["password_hash"])
    audit = db.execute("SELECT actor_id, after FROM audit_log WHERE entity = 'admin_user'").fetchone()
    assert audit["actor_id"] == admin.admin["id"] and audit["after"]["email"] == "eva@example.com"
    assert "password_hash" not in audit["after"]


@pytest.mark.parametrize("password", ["short", "aaaaaaaaaaaaaaaa", "password1234", "eva-is-my-name-123"])
def test_weak_passwords_are_refused(admin, password):
    response = admin.post("/admin/users", body={"email": "eva@example.com", "password": password})
    assert response["statusCode"] == 400


def test_an_email_already_used_is_409(admin):
    admin.post("/admin/users", body={"email": "eva@example.com", "password": STRONG})
    response = admin.post("/admin/users", body={"email": "EVA@example.com", "password": STRONG})
    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "email_taken"


def test_an_admin_changes_role_activity_and_password_audited_without_the_hash(admin, db):
    user = admin.post("/admin/users", body={"email": "eva@example.com", "password": STRONG})["json"]
    response = admin.patch(
        USER,
        id=user["id"],
        body={"role": "viewer", "is_active": False, "password": "another fine passphrase", "version": 1},
    )
    assert response["statusCode"] == 200
    assert response["json"]["role"] == "viewer" and response["json"]["is_active"] is False
    audit = db.execute("SELECT before, after FROM audit_log WHERE action = 'update'").fetchone()
    assert audit["before"] == {"role": "editor", "is_active": True, "version": 1}
    assert audit["after"] == {"role": "viewer", "is_active": False, "version": 2, "password_changed": True}


def test_a_weak_new_password_is_refused(admin):
    user = admin.post("/admin/users", body={"email": "eva@example.com", "password": STRONG})["json"]
    assert admin.patch(USER, id=user["id"], body={"password": "short", "version": 1})["statusCode"] == 400


@pytest.mark.parametrize("body", [{"is_active": False}, {"role": "editor"}])
def test_an_admin_cannot_deactivate_or_demote_themself(admin, body):
    response = admin.patch(USER, id=admin.admin["id"], body={**body, "version": 1})
    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "self_lockout"


def test_a_deactivated_user_loses_access_at_once(admin, fn, db):
    editor = Client(load_function("products"), make_admin(db, "editor"))
    assert editor.get("/products")["statusCode"] == 200
    admin.patch(USER, id=editor.admin["id"], body={"is_active": False, "version": 1})
    assert editor.get("/products")["statusCode"] == 401


def test_the_user_list_pages_by_keyset(admin, db):
    for i in range(4):
        make_admin(db, "viewer", f"user{i}@example.com")
    first = admin.get("/admin/users", query={"limit": "3"})["json"]
    second = admin.get("/admin/users", query={"limit": "3", "cursor": first["next_cursor"]})["json"]
    emails = [u["email"] for u in first["items"] + second["items"]]
    assert len(emails) == 5 and len(set(emails)) == 5 and second["next_cursor"] is None


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_admins_manage_users_and_read_the_audit(fn, db, role):
    other = Client(fn, make_admin(db, role))
    assert other.get("/admin/users")["statusCode"] == 403
    new_user = {"email": "x@example.com", "password": STRONG}
    assert other.post("/admin/users", body=new_user)["statusCode"] == 403
    assert other.patch(USER, id=other.admin["id"], body={"role": "admin"})["statusCode"] == 403
    assert other.get("/audit")["statusCode"] == 403


def test_audit_is_filtered_by_entity_actor_action_and_time_and_paged(admin, fn, db):
    editor = Client(load_function("products"), make_admin(db, "editor", "ed@example.com"))
    product = editor.post("/products", body={"name": "Martillo"})["json"]
    editor.patch("/products/{id}", id=product["id"], body={"stock": 2, "version": 1})
    admin.post("/admin/users", body={"email": "eva@example.com", "password": STRONG})

    def actions(**query):
        response = admin.get("/audit", query=query)
        assert response["statusCode"] == 200, response["json"]
        return [r["action"] for r in response["json"]["items"]]

    assert actions(entity="product") == ["update", "create"]
    assert actions(entity="product", entity_id=product["id"], action="create") == ["create"]
    assert actions(actor="ed@example.com") == ["update", "create"]
    assert actions(actor=str(admin.admin["id"])) == ["create"]
    assert actions(entity="admin_user") == ["create"]
    assert actions(since="2000-01-01T00:00:00Z", until="2000-01-02T00:00:00Z") == []
    first = admin.get("/audit", query={"limit": "2"})["json"]
    rest = admin.get("/audit", query={"limit": "2", "cursor": first["next_cursor"]})["json"]
    ids = [r["id"] for r in first["items"] + rest["items"]]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)


def test_get_routes_write_nothing(admin, db):
    admin.get("/admin/users")
    admin.get("/audit")
    assert db.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == 0


def test_a_password_change_ends_the_users_existing_sessions(admin, db):
    # GIVEN eva is signed in (say, by someone who had her old password)
    eva = Client(load_function("products"), make_admin(db, "editor", "eva@example.com"))
    assert eva.get("/products")["statusCode"] == 200
    # WHEN an admin sets a new password for her
    changed = admin.patch(
        USER, id=eva.admin["id"], body={"password": "another fine passphrase", "version": 1}
    )
    assert changed["statusCode"] == 200
    # THEN the old token is refused; a session issued after the change works
    assert eva.get("/products")["statusCode"] == 401
    fresh = db.execute("SELECT * FROM admin_users WHERE id = %s", (eva.admin["id"],)).fetchone()
    assert Client(eva.module, fresh).get("/products")["statusCode"] == 200


def test_a_token_of_a_deactivated_user_stays_dead_after_reactivation(admin, db):
    eva = Client(load_function("products"), make_admin(db, "editor", "eva@example.com"))
    admin.patch(USER, id=eva.admin["id"], body={"is_active": False, "version": 1})
    admin.patch(USER, id=eva.admin["id"], body={"is_active": True, "version": 2})
    assert eva.get("/products")["statusCode"] == 401


def test_a_role_change_alone_keeps_the_session(admin, db):
    eva = Client(load_function("products"), make_admin(db, "editor", "eva@example.com"))
    admin.patch(USER, id=eva.admin["id"], body={"role": "viewer", "version": 1})
    assert eva.get("/products")["statusCode"] == 200  # the role is read live: viewer may list


@pytest.mark.parametrize("route", ["/admin/users", "/audit"])
@pytest.mark.parametrize(
    "values",
    [["not a time", "x"], ["not a time", 5], ["2024-01-01T00:00:00+00:00", "not an id"], [1, {"a": 1}]],
)
def test_a_forged_cursor_is_400_not_500(admin, route, values):
    from angebae.pagination import encode_cursor

    response = admin.get(route, query={"cursor": encode_cursor(values)})
    assert response["statusCode"] == 400, response["json"]
    assert response["json"]["error"]["code"] == "bad_request"
