"""Routes declare who may call them and what they answer (issue 10), and the wrapper enforces both.

Every Chalice app under functions/ is loaded in-process: every route that is not public answers 401
without a session (and 403 below its role), a route that declares neither a role nor public=True
cannot be defined, and one walk through every route's happy path shows each answer is its declared
response model (the tests run with ANGEBAE_STRICT_RESPONSES=1: a field the model lacks or misses is
a 500 naming it, so a 2xx here is an answer that matched)."""

from __future__ import annotations

import json
import re
import uuid

import pyotp
import pytest
from angebae import http, openapi, responses
from catalog_support import Client, make_admin, make_candidate
from chalice import Chalice
from ocr_support import price_list_pdf, upload
from psycopg.types.json import Jsonb
from pydantic import BaseModel
from support import ROOT, call, load_function, rest_event

FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
PUBLIC = {("GET", "/health"), ("POST", "/admin/login")}
STRONG = "a long enough passphrase"


@pytest.fixture
def apps(aws) -> dict:
    """{function: its loaded module}, for each function whose app is a Chalice app (HTTP routes)."""
    modules = {name: load_function(name) for name in FUNCTIONS}
    return {name: m for name, m in modules.items() if isinstance(getattr(m, "app", None), Chalice)}


def routes(apps: dict):
    for name, module in sorted(apps.items()):
        for path, methods in module.app.routes.items():
            for method in methods:
                yield name, module, method, path, module.app.docs[(method, path)]


def event_for(method: str, path: str, headers: dict | None = None) -> dict:
    """A request to the route with made-up path values (a UUID, page 1) and, for a body, `{}`."""
    values = {p: ("1" if p == "n" else str(uuid.uuid4())) for p in re.findall(r"\{(\w+)\}", path)}
    body = {} if method in ("POST", "PATCH", "PUT") else None
    return rest_event(
        method, path, path=path.format(**values), body=body, headers=headers, path_params=values or None
    )


# --- auth is declared on the route and enforced before the view ---------------------------------------


def test_every_route_declares_a_role_or_public_and_only_two_are_public(apps):
    declared = {(method, path): (doc.public, doc.role) for _, _, method, path, doc in routes(apps)}
    assert len(declared) > 40
    assert {k for k, (public, _) in declared.items() if public} == PUBLIC
    assert all(role in http.ROLES for public, role in declared.values() if not public)


def test_every_route_that_is_not_public_answers_401_without_a_session(apps):
    checked = 0
    for name, module, method, path, doc in routes(apps):
        if doc.public:
            continue
        for headers in (
            None,
            {"Authorization": "Bearer not-a-token"},
            {"Cookie": "__Host-angebae_session=forged"},
        ):
            response = call(module, event_for(method, path, headers))
            assert response["statusCode"] == 401, (name, method, path, headers, response["json"])
            assert response["headers"]["WWW-Authenticate"] == 'Bearer realm="angebae"'
            assert response["json"]["error"]["code"] in ("unauthorized", "invalid_session")
        checked += 1
    assert checked == len(list(routes(apps))) - len(PUBLIC)


def test_a_role_below_the_routes_gets_403_before_the_view_runs(apps, db):
    # GIVEN a viewer and an editor: the editor and admin routes refuse the viewer, the admin ones both
    sessions = {role: Client(None, make_admin(db, role)).headers for role in ("viewer", "editor")}
    refused = 0
    for name, module, method, path, doc in routes(apps):
        for role, headers in sessions.items():
            if doc.public or http.ROLES.index(role) >= http.ROLES.index(doc.role):
                continue
            response = call(module, event_for(method, path, headers))
            assert response["statusCode"] == 403, (name, method, path, role, response["json"])
            assert response["json"]["error"]["code"] == "forbidden"
            refused += 1
    assert refused > 20
    # AND nothing was written: the view never ran (no audit row but the admins' own inserts)
    assert db.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == 0


def test_a_route_without_a_role_or_public_is_refused_when_the_app_is_defined(env):
    app = http.create_app("contract-test")
    with pytest.raises(TypeError, match="declare role="):
        app.route("/nobody", methods=["GET"])
    with pytest.raises(ValueError, match="owner"):
        app.route("/owners", methods=["GET"], role="owner")
    with pytest.raises(TypeError, match="public=True takes no role"):
        app.route("/both", methods=["GET"], role="viewer", public=True)


# --- the answer goes through its model ----------------------------------------------------------------


def contract_app(strict: bool, monkeypatch, value):
    """A function with one public route answering `value` through responses.Deleted."""
    if not strict:
        monkeypatch.delenv(http.STRICT_ENV)
    app = http.create_app("contract-test")

    @app.route("/thing", methods=["GET"], public=True, responses={200: responses.Deleted})
    def thing():
        return http.json_response(value)

    class Module:
        pass

    module = Module()
    module.app = app
    return module


def test_a_field_the_model_lacks_never_leaves_and_in_strict_mode_fails_naming_it(env, monkeypatch):
    value = {"deleted": True, "password_hash": "$2b$12$secret"}
    lenient = call(contract_app(False, monkeypatch, value), rest_event("GET", "/thing"))
    assert lenient["statusCode"] == 200 and lenient["json"] == {"deleted": True}
    monkeypatch.setenv(http.STRICT_ENV, "1")
    strict = call(contract_app(True, monkeypatch, value), rest_event("GET", "/thing"))
    assert strict["statusCode"] == 500 and strict["json"]["error"]["code"] == "response_contract"
    assert strict["json"]["error"]["details"]["problems"] == [
        {"field": "password_hash", "problem": "not in the model"}
    ]
    assert "secret" not in strict["body"]


@pytest.mark.parametrize("strict", [False, True])
def test_a_missing_field_is_a_500_response_contract_and_the_message_only_in_strict_mode(
    env, monkeypatch, strict
):
    response = call(contract_app(strict, monkeypatch, {"gone": True}), rest_event("GET", "/thing"))
    assert response["statusCode"] == 500
    error = response["json"]["error"]
    assert error["code"] == "response_contract"
    if strict:
        assert error["details"]["problems"][0]["field"] == "deleted"
    else:
        assert "details" not in error and error["message"] == "An internal error occurred."


def test_the_descriptions_answers_are_the_routes_response_models_and_roles(apps):
    spec = openapi.build(ROOT)
    schemas = spec["components"]["schemas"]
    for _, _, method, path, doc in routes(apps):
        op = spec["paths"][path][method.lower()]
        assert op.get("x-role") == (None if doc.public else doc.role), (method, path)
        for status, model in doc.responses.items():
            content = op["responses"][str(status)]["content"]["application/json"]["schema"]
            assert content == {"$ref": f"#/components/schemas/{model.__name__}"}, (method, path, status)
            expected = model.model_json_schema(
                mode="serialization", ref_template="#/components/schemas/{model}"
            )
            expected.pop("$defs", None)
            assert schemas[model.__name__] == expected, model.__name__
    # money and times in the API's one format, as the description says
    price = schemas["Product"]["properties"]["price"]["anyOf"][0]
    assert price["type"] == "string" and re.fullmatch(price["pattern"], "1234.56")
    assert not re.fullmatch(price["pattern"], "1234.5")
    assert schemas["Category"]["properties"]["created_at"]["anyOf"][0]["format"] == "date-time"


# --- every route's happy path answers its declared model ----------------------------------------------


class Walk:
    """Calls the routes as a client would, checking each 2xx against its declared model."""

    def __init__(self, apps: dict, db) -> None:
        self.apps, self.db = apps, db
        self.by_route = {(method, path): (name, doc) for name, _, method, path, doc in routes(apps)}
        self.seen: set[tuple[str, str]] = set()

    def __call__(
        self,
        client_headers: dict,
        method: str,
        path: str,
        *,
        status: int = 200,
        body=None,
        query=None,
        headers=None,
        **ids,
    ) -> dict:
        name, doc = self.by_route[(method, path)]
        event = rest_event(
            method,
            path,
            path=path.format(**ids),
            body=body,
            query=query,
            headers={**client_headers, **(headers or {})},
            path_params={k: str(v) for k, v in ids.items()} or None,
        )
        response = call(self.apps[name], event)
        assert response["statusCode"] == status, (method, path, response["json"])
        model = doc.responses[status]
        assert isinstance(model, type) and issubclass(model, BaseModel), (method, path, model)
        # What was sent is the model's JSON: it validates, and dumping it again changes nothing.
        again = json.loads(model.model_validate(response["json"]).model_dump_json(exclude_unset=True))
        assert again == response["json"], (method, path)
        self.seen.add((method, path))
        return response


def test_every_route_answers_its_declared_response_model_on_a_happy_path(apps, aws, db, database_url):
    walk = Walk(apps, db)
    admin = make_admin(db, "admin")
    me = Client(None, admin).headers

    assert walk({}, "GET", "/health")["json"]["status"] == "up"

    # admins: a new account, read, changed, listed; audit; role policies; unlock
    user = walk(
        me,
        "POST",
        "/admin/users",
        status=201,
        body={"email": "eva@example.com", "password": STRONG, "role": "editor"},
    )["json"]
    walk(me, "GET", "/admin/users")
    walk(me, "GET", "/admin/users/{id}", id=user["id"])
    walk(me, "PATCH", "/admin/users/{id}", id=user["id"], body={"role": "admin"}, headers={"If-Match": '"1"'})
    walk(me, "GET", "/admin/roles")
    walk(me, "PATCH", "/admin/roles", body={"role": "viewer", "two_factor_required": False})
    walk(me, "POST", "/admin/unlock", body={"email": "eva@example.com"})

    # the account's own: sign in, me, password, two-factor enrolment, sign out
    login = {"email": "eva@example.com", "password": STRONG}
    eva = {"Authorization": f"Bearer {walk({}, 'POST', '/admin/login', body=login)['json']['token']}"}
    assert walk(eva, "GET", "/admin/me")["json"]["admin"]["email"] == "eva@example.com"
    changed = walk(
        eva,
        "POST",
        "/admin/me/password",
        body={"current_password": STRONG, "new_password": STRONG + " again"},
    )["json"]
    eva = {"Authorization": f"Bearer {changed['token']}"}
    secret = walk(eva, "POST", "/admin/me/two-factor", body={"password": STRONG + " again"})["json"]["secret"]
    enrolled = walk(eva, "POST", "/admin/me/two-factor/confirm", body={"code": pyotp.TOTP(secret).now()})
    assert len(enrolled["json"]["recovery_codes"]) == 10
    walk(me, "DELETE", "/admin/users/{id}/two-factor", id=user["id"])
    walk(me, "GET", "/audit")

    # categories
    category = walk(me, "POST", "/categories", status=201, body={"name": "Herramientas"})["json"]
    walk(me, "GET", "/categories")
    walk(me, "GET", "/categories/{id}", id=category["id"])
    walk(me, "PATCH", "/categories/{id}", id=category["id"], body={"name": "Tools", "version": 1})

    # media: an upload ticket, the list, one, its OCR jobs
    ticket = walk(
        me,
        "POST",
        "/media/uploads",
        status=201,
        body={"filename": "lista.pdf", "content_type": "application/pdf", "size": 1000},
    )["json"]
    walk(me, "GET", "/media")
    document = upload(database_url, aws, admin, price_list_pdf(pages=1))
    db.execute("UPDATE media SET status = 'uploaded' WHERE id = %s", (document["id"],))
    job = walk(me, "POST", "/ocr/jobs", status=202, body={"media_id": str(document["id"])})["json"]
    db.execute(
        """INSERT INTO ocr_pages (job_id, page_number, source, width, height, mean_confidence, words,
                                         text) VALUES (%s, 1, 'text', 595, 842, 1, %s, 'Martillo 12,50')""",
        (
            job["id"],
            Jsonb(
                [
                    {
                        "text": "Martillo",
                        "x0": 1,
                        "y0": 2,
                        "x1": 3,
                        "y1": 4,
                        "confidence": 1,
                        "block": 0,
                        "line": 0,
                    }
                ]
            ),
        ),
    )
    walk(me, "GET", "/media/{id}", id=document["id"])
    walk(me, "GET", "/ocr/jobs")
    walk(me, "GET", "/ocr/jobs/{id}", id=job["id"])
    walk(me, "GET", "/ocr/jobs/{id}/pages/{n}", id=job["id"], n=1)
    walk(me, "GET", "/ocr/jobs/{id}/candidates", id=job["id"])
    walk(me, "GET", "/ocr/jobs/{id}/candidates/export", status=303, id=job["id"], query={"format": "csv"})
    walk(me, "DELETE", "/media/{id}", id=ticket["media"]["id"])

    # candidates: the queue, one, a change, accept, reopen, reject, bulk
    first, second, third = (
        make_candidate(db, name=n, sku=s) for n, s in (("Martillo", "M-1"), ("Sierra", None), ("Llave", None))
    )
    walk(me, "GET", "/candidates")
    walk(me, "GET", "/candidates/{id}", id=first["id"])
    walk(me, "PATCH", "/candidates/{id}", id=first["id"], body={"price": "12.50", "version": 1})
    accepted = walk(me, "POST", "/candidates/{id}/accept", id=first["id"], body={})["json"]
    walk(me, "POST", "/candidates/{id}/reopen", id=first["id"], body={"archive_product": True})
    walk(me, "POST", "/candidates/{id}/reject", id=second["id"], body={})
    bulk = {"action": "accept", "ids": [str(third["id"]), str(second["id"])]}  # one done, one refused
    results = walk(me, "POST", "/candidates/bulk", body=bulk)["json"]["results"]
    assert [r["status"] for r in results] == [200, 409]

    # products: made, listed, read, changed, archived, deleted
    product = walk(
        me, "POST", "/products", status=201, body={"name": "Martillo", "price": "12.50", "currency": "EUR"}
    )["json"]
    walk(me, "GET", "/products")
    walk(me, "GET", "/products/export", status=303, query={"format": "xlsx"})
    walk(me, "GET", "/products/{id}", id=product["id"])
    walk(me, "PATCH", "/products/{id}", id=product["id"], body={"stock": 3}, headers={"If-Match": '"1"'})
    assert walk(me, "DELETE", "/products/{id}", id=product["id"])["json"]["status"] == "archived"
    walk(me, "DELETE", "/products/{id}", id=product["id"], query={"hard": "true"})
    assert accepted["outcome"] == "created"
    walk(me, "DELETE", "/categories/{id}", id=category["id"])

    walk(me, "POST", "/admin/logout")
    assert walk.seen == set(walk.by_route), sorted(set(walk.by_route) - walk.seen)
