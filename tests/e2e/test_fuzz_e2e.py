"""schemathesis against the running local stack's /openapi.json, every operation, signed in and not:
no 5xx, status codes and bodies as documented, and every protected operation 401 without a session.
Then, on every operation, the hostile shapes schemathesis does not make (tests/hostile.py): JSON
nested past any sane depth and numbers JSON cannot hold in every body, forged cursors in every
cursor, validly signed tokens with odd claims on every protected route; and every read, run against
rows that exist (a media, its job and candidates, a product, a category, an admin), matches its
response schema.

Bounded for CI (FUZZ_EXAMPLES per operation signed in, FUZZ_UNAUTH_EXAMPLES without a session);
`make fuzz` runs the same with more. Nothing is excluded. Two precautions keep the shared stack usable
for the other e2e tests: the fuzzer connects from 127.0.0.2, so the login rate limit it trips (failed
logins are counted per address) never locks out 127.0.0.1; POST /admin/logout gets a token of its own
each time, since revoking the shared one would end the run's session; a 429 of the gateway's
throttling is waited out and sent again (the function's own 429s carry Retry-After and count).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from http.cookiejar import DefaultCookiePolicy

import hostile
import jwt
import psycopg
import pytest
import requests
import schemathesis
from angebae_local.template import Template
from catalog_support import make_admin, make_candidate, make_media
from e2e_support import EMAIL, PASSWORD, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
UNAUTH_EXAMPLES = int(os.environ.get("FUZZ_UNAUTH_EXAMPLES", "5"))
HOSTILE_EXAMPLES = int(os.environ.get("FUZZ_HOSTILE_EXAMPLES", "30"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SOURCE = "127.0.0.2"
HYPOTHESIS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
# The template's API events; tests/unit/test_openapi.py proves /openapi.json has exactly these.
OPERATIONS = sorted(
    (r.method, r.path) for fn in Template(ROOT / "template.yaml").functions() for r in fn.api_routes
)


class FromAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):
        # The gateway's throttling (a 429 without Retry-After, before any function runs: POST
        # /admin/login takes 5 a second) would answer most of a fast fuzzer's cases: wait for the
        # method's bucket, so each case reaches its function.
        for _ in range(40):
            response = super().send(request, **kwargs)
            if response.status_code != 429 or "Retry-After" in response.headers:
                return response
            time.sleep(0.25)
        return response


def login_token(api: str) -> str:
    r = requests.post(f"{api}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["token"]


class Fuzzer:
    def __init__(self, api: str) -> None:
        self.api = api
        self.session = requests.Session()
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # never keep a session
        self.session.mount("http://", FromAddress(FUZZ_SOURCE))
        self.token = login_token(api)

    def auth(self, case) -> dict[str, str]:
        token = login_token(self.api) if case is not None and case.path == "/admin/logout" else self.token
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def fuzzer(local_stack) -> Fuzzer:
    return Fuzzer(local_stack.url)


@pytest.fixture(scope="module")
def api_schema(local_stack):
    return schemathesis.openapi.from_url(f"{local_stack.url}/openapi.json")


def cases(api_schema, method: str, path: str):
    """Valid and invalid requests (schemathesis' positive and negative modes) for one operation."""
    operation = api_schema[path][method]
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode))


def test_openapi_json_and_offline_docs_are_served(api):
    r = requests.get(f"{api}/openapi.json", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    spec = r.json()
    assert spec["openapi"].startswith("3.1") and "/products/{id}" in spec["paths"]
    docs = requests.get(f"{api}/docs", timeout=30)
    assert docs.status_code == 200 and docs.headers["Content-Type"].startswith("text/html")
    assert 'fetch("/openapi.json")' in docs.text and "https://" not in docs.text


@pytest.mark.parametrize(
    "path,body,query",
    [
        ("/products", {"name": "Aceite", "stock": 2**31}, None),  # integer column overflow
        ("/products", {"name": "Ace\u0000ite"}, None),  # NUL in a text column
        ("/products", {"name": "Aceite", "attributes": {"k\u0000": [1]}}, None),  # NUL in jsonb
        ("/categories", {"name": "\ud800"}, None),  # a lone surrogate is not UTF-8
        ("/products", None, {"q": "ace\u0000ite"}),  # NUL in the query string
    ],
)
def test_what_the_fuzzer_found_is_a_400_not_a_500(fuzzer, path, body, query):
    method = "POST" if body is not None else "GET"
    r = fuzzer.session.request(
        method, f"{fuzzer.api}{path}", json=body, params=query, headers=fuzzer.auth(None), timeout=60
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error", r.text


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_fuzz_signed_in(method, path, api_schema, fuzzer):
    @given(case=cases(api_schema, method, path))
    @settings(max_examples=EXAMPLES, **HYPOTHESIS)
    def run(case):
        case.call_and_validate(session=fuzzer.session, headers=fuzzer.auth(case), checks=CHECKS, timeout=60)

    run()


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_fuzz_without_a_session(method, path, api_schema, fuzzer):
    protected = bool(api_schema[path][method].definition.raw.get("security"))

    @given(case=cases(api_schema, method, path))
    @settings(max_examples=UNAUTH_EXAMPLES, **HYPOTHESIS)
    def run(case):
        response = case.call(session=fuzzer.session, timeout=60)
        case.validate_response(response, checks=CHECKS)
        if protected:
            assert response.status_code == 401, (method, path, response.text)

    run()


# --- rows that exist, hostile shapes -----------------------------------------------------------------


class Seeded:
    """Rows the reads can find, made in the stack's database, and tokens signed with the stack's key."""

    def __init__(self, stack, fuzzer: Fuzzer) -> None:
        self.secret = stack.jwt_secret
        with psycopg.connect(stack.database_url, autocommit=True, row_factory=psycopg.rows.dict_row) as db:
            self.admin = db.execute("SELECT * FROM admin_users WHERE email = %s", (EMAIL,)).fetchone()
            media = make_media(db)
            first = make_candidate(db, media=media, sku="FZ-1")
            db.execute(
                """INSERT INTO product_candidates (job_id, media_id, page_number, position, name,
                                                          price, currency, qty, bbox, confidence, attributes)
                          VALUES (%s, %s, 2, 1, 'Arandela M8', '0.1000', 'EUR', 100, '{1,2,3,4}', 0.8,
                                  '{"evidence": "price column"}')""",
                (first["job_id"], media["id"]),
            )
            db.execute(
                """INSERT INTO ocr_pages (job_id, page_number, source, width, height, mean_confidence,
                                                 words, text)
                          VALUES (%s, 2, 'ocr', 595, 842, 0.8, %s, 'Arandela M8 0,10')""",
                (
                    first["job_id"],
                    json.dumps(
                        [
                            {
                                "text": "Arandela",
                                "x0": 50,
                                "y0": 90,
                                "x1": 110,
                                "y1": 102,
                                "confidence": 0.8,
                                "block": 0,
                                "line": 0,
                            }
                        ]
                    ),
                ),
            )
            other = make_admin(db, "viewer")
        auth = {"Authorization": f"Bearer {self.token()}"}
        category = fuzzer.session.post(
            f"{fuzzer.api}/categories", json={"name": f"Fuzz {uuid.uuid4()}"}, headers=auth, timeout=60
        ).json()
        product = fuzzer.session.post(
            f"{fuzzer.api}/products",
            headers=auth,
            timeout=60,
            json={
                "name": "Tornillo fuzz",
                "price": "1.25",
                "currency": "EUR",
                "category_id": category["id"],
                "attributes": {"material": "acero", "sizes": [6, 8]},
                "images": [str(media["id"])],
            },
        ).json()
        self.ids = {
            "/admin/users/": other["id"],
            "/candidates/": first["id"],
            "/categories/": category["id"],
            "/media/": media["id"],
            "/ocr/jobs/": first["job_id"],
            "/products/": product["id"],
        }

    def token(self, **claims) -> str:
        now = int(time.time())
        return jwt.encode(
            {
                "sub": str(self.admin["id"]),
                "iss": "angebae",
                "aud": "angebae-admin",
                "iat": now,
                "exp": now + 3600,
                "jti": str(uuid.uuid4()),
                "role": self.admin["role"],
                "gen": self.admin["session_generation"],
                **claims,
            },
            self.secret,
            algorithm="HS256",
        )

    def url(self, api: str, path: str) -> str:
        for prefix, row_id in self.ids.items():
            if path.startswith(prefix) and "{id}" in path:
                return api + path.replace("{id}", str(row_id)).replace("{n}", "2")  # the seeded page
        return api + path


@pytest.fixture(scope="module")
def seeded(local_stack, fuzzer) -> Seeded:
    return Seeded(local_stack, fuzzer)


def assert_error(response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert response.json()["error"]["code"], response.text[:300]


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_hostile_shapes_on_every_route(method, path, api_schema, fuzzer, seeded):
    """Deep nesting and non-finite numbers in the body: 400. A forged cursor: 400 (200 if it happens
    to be one we could have made). An odd exp, iat, sub or jti in a validly signed token: 401. Never
    a 5xx, always the error body."""
    operation = api_schema[path][method].definition.raw
    has_body = "requestBody" in operation
    has_cursor = any(p["name"] == "cursor" for p in operation.get("parameters", []))
    protected = bool(operation.get("security"))
    base = BASE_BODIES.get((method, path), {})
    shapes = [
        *(["body"] if has_body or not protected else []),
        *(["cursor"] if has_cursor else []),
        *(["token"] if protected else []),
    ]
    url = seeded.url(fuzzer.api, path)

    @given(data=st.data())
    @settings(max_examples=HOSTILE_EXAMPLES, **HYPOTHESIS)
    def run(data):
        shape = data.draw(st.sampled_from(shapes), label="shape")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {seeded.token()}"}
        if shape == "body":
            body = data.draw(hostile.hostile_body(base), label="body")
            r = fuzzer.session.request(method, url, data=body.encode(), headers=headers, timeout=60)
            assert_error(r, 400) if has_body else assert_error(r, 200)  # a route without one ignores it
        elif shape == "cursor":
            cursor = data.draw(hostile.forged_cursor(), label="cursor")
            r = fuzzer.session.request(method, url, params={"cursor": cursor}, headers=headers, timeout=60)
            assert_error(r, 200, 400)
        else:
            claim, token = data.draw(hostile.odd_token(seeded.secret, seeded.admin), label="token")
            headers["Authorization"] = f"Bearer {token}"
            r = fuzzer.session.request(method, url, data=b"{}", headers=headers, timeout=60)
            if claim in hostile.STRICT_CLAIMS:
                assert_error(r, 401)
            else:  # an odd nbf, gen or role may still be a session: whatever the route says to {}
                assert_error(r, 200, 201, 400, 401, 404, 409, 428)  # 428: {} names no version

    run()


# A body each route accepts, so a hostile value in one of its fields is the only thing wrong with it.
BASE_BODIES = {
    ("POST", "/admin/login"): {"email": EMAIL, "password": "wrong-password"},
    ("POST", "/admin/users"): {"email": "fuzz@example.com", "password": "Long-enough-passphrase-1"},
    ("PATCH", "/admin/users/{id}"): {"role": "viewer", "version": 1},
    ("POST", "/candidates/bulk"): {"action": "reject", "ids": [str(uuid.uuid4())]},
    ("PATCH", "/candidates/{id}"): {"name": "Tornillo", "attributes": {}, "version": 1},
    ("POST", "/categories"): {"name": "Fuzz"},
    ("PATCH", "/categories/{id}"): {"name": "Fuzz", "version": 1},
    ("POST", "/media/uploads"): {"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
    ("POST", "/ocr/jobs"): {"media_id": str(uuid.uuid4())},
    ("POST", "/products"): {"name": "Aceite", "attributes": {}},
    ("PATCH", "/products/{id}"): {"version": 1, "name": "Aceite", "attributes": {}},
}


def test_every_read_of_rows_that_exist_matches_the_description(api_schema, fuzzer, seeded):
    reads = [(m, p) for m, p in OPERATIONS if m == "GET"]
    headers = {"Authorization": f"Bearer {seeded.token()}"}
    for method, path in reads:
        if path.endswith("/export"):  # a 303 to the file, presigned (angebae/catalog/export.py)
            r = fuzzer.session.get(
                seeded.url(fuzzer.api, path),
                params={"format": "csv"},
                headers=headers,
                timeout=60,
                allow_redirects=False,
            )
            assert r.status_code == 303 and r.headers["Location"] == r.json()["url"], (path, r.text[:300])
            api_schema[path][method].validate_response(r)
            assert requests.get(r.headers["Location"], timeout=60).content.startswith(b"\xef\xbb\xbfid,")
            continue
        r = fuzzer.session.get(seeded.url(fuzzer.api, path), headers=headers, timeout=60)
        assert r.status_code == 200, (path, r.text[:300])
        api_schema[path][method].validate_response(r)
    candidates = fuzzer.session.get(
        seeded.url(fuzzer.api, "/ocr/jobs/{id}/candidates"), headers=headers, timeout=60
    ).json()["items"]
    assert len(candidates) == 2 and all(c["job_id"] and c["media_id"] for c in candidates)
