"""Helpers for the catalog and admin tests: admins of each role with ready tokens, and a small client
that turns (method, route, path values) into REST events for a function module."""

from __future__ import annotations

import uuid

from angebae.auth import sessions
from angebae.settings import get_settings
from support import call, rest_event


def make_admin(db, role: str = "admin", email: str | None = None) -> dict:
    """An admin row (no real password: these tests sign in with tokens issued directly)."""
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    return db.execute(
        "INSERT INTO admin_users (email, password_hash, role) VALUES (%s, 'x', %s) RETURNING *", (email, role)
    ).fetchone()


class Client:
    """Calls one function module as an admin: `client.post("/products", body={...})`."""

    def __init__(self, module, admin: dict | None) -> None:
        self.module = module
        self.admin = admin
        self.headers = {}
        if admin is not None:
            token = sessions.issue_session(get_settings(), admin).token
            self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, resource: str, *, body=None, query=None, headers=None, **path_params):
        path = resource.format(**path_params)
        event = rest_event(
            method,
            resource,
            path=path,
            body=body,
            query=query,
            headers={**self.headers, **(headers or {})},
            path_params={k: str(v) for k, v in path_params.items()} or None,
        )
        return call(self.module, event)

    def get(self, resource, **kw):
        return self.request("GET", resource, **kw)

    def post(self, resource, **kw):
        return self.request("POST", resource, **kw)

    def patch(self, resource, **kw):
        return self.request("PATCH", resource, **kw)

    def delete(self, resource, **kw):
        return self.request("DELETE", resource, **kw)


def create_product(client: Client, name: str = "Camión rojo", **fields) -> dict:
    response = client.post("/products", body={"name": name, **fields})
    assert response["statusCode"] == 201, response["json"]
    return response["json"]


def walk_products(client: Client, query: dict) -> list[dict]:
    """Every page of GET /products, following next_cursor; the items in order."""
    items, cursor = [], None
    while True:
        response = client.get("/products", query={**query, **({"cursor": cursor} if cursor else {})})
        assert response["statusCode"] == 200, response["json"]
        items += response["json"]["items"]
        cursor = response["json"]["next_cursor"]
        if not cursor:
            return items


def search_products(client: Client, q: str, **query) -> list[str]:
    """The names GET /products?q= answers, in its order."""
    response = client.get("/products", query={"q": q, **query})
    assert response["statusCode"] == 200, response["json"]
    return [p["name"] for p in response["json"]["items"]]


def make_media(db) -> dict:
    key = f"uploads/{uuid.uuid4()}/catalog.pdf"
    return db.execute(
        """INSERT INTO media (bucket, object_key, filename, declared_type, status)
           VALUES ('media', %s, 'catalog.pdf', 'application/pdf', 'uploaded') RETURNING *""",
        (key,),
    ).fetchone()


def make_candidate(
    db, *, name="Tornillo hexagonal M8", price="1.2500", currency="EUR", sku=None, page=2, media=None
) -> dict:
    """A pending candidate as the OCR worker leaves it: its media, its job, a page and a position."""
    media = media or make_media(db)
    job = db.execute(
        """INSERT INTO ocr_jobs (media_id, source_key, status)
                        VALUES (%s, %s, 'succeeded') RETURNING *""",
        (media["id"], f"test:{uuid.uuid4()}"),
    ).fetchone()
    return db.execute(
        """INSERT INTO product_candidates (job_id, media_id, page_number, position, name, price, currency,
                                           sku, qty, bbox, confidence, raw)
           VALUES (%s, %s, %s, 0, %s, %s, %s, %s, 10, '{10,20,300,40}', 0.91, %s) RETURNING *""",
        (job["id"], media["id"], page, name, price, currency, sku, f"{name} {price}"),
    ).fetchone()
