"""schemathesis against the running local stack's /openapi.json, every operation, signed in and not:
no 5xx, status codes and bodies as documented, and every protected operation 401 without a session.

Bounded for CI (FUZZ_EXAMPLES per operation signed in, FUZZ_UNAUTH_EXAMPLES without a session);
`make fuzz` runs the same with more. Nothing is excluded. Two precautions keep the shared stack usable
for the other e2e tests: the fuzzer connects from 127.0.0.2, so the login rate limit it trips (failed
logins are counted per address) never locks out 127.0.0.1; POST /admin/logout gets a token of its own
each time, since revoking the shared one would end the run's session.
"""

from __future__ import annotations

import os
from http.cookiejar import DefaultCookiePolicy

import pytest
import requests
import schemathesis
from angebae_local.template import Template
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
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SOURCE = "127.0.0.2"
HYPOTHESIS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
# The template's API events; tests/unit/test_openapi.py proves /openapi.json has exactly these.
OPERATIONS = sorted((r.method, r.path) for fn in Template(ROOT / "template.yaml").functions()
                    for r in fn.api_routes)


class FromAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


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


@pytest.mark.parametrize("path,body,query", [
    ("/products", {"name": "Aceite", "stock": 2**31}, None),  # integer column overflow
    ("/products", {"name": "Ace\u0000ite"}, None),  # NUL in a text column
    ("/products", {"name": "Aceite", "attributes": {"k\u0000": [1]}}, None),  # NUL in jsonb
    ("/categories", {"name": "\ud800"}, None),  # a lone surrogate is not UTF-8
    ("/products", None, {"q": "ace\u0000ite"}),  # NUL in the query string
])
def test_what_the_fuzzer_found_is_a_400_not_a_500(fuzzer, path, body, query):
    method = "POST" if body is not None else "GET"
    r = fuzzer.session.request(method, f"{fuzzer.api}{path}", json=body, params=query,
                               headers=fuzzer.auth(None), timeout=60)
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error", r.text


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_fuzz_signed_in(method, path, api_schema, fuzzer):
    @given(case=cases(api_schema, method, path))
    @settings(max_examples=EXAMPLES, **HYPOTHESIS)
    def run(case):
        case.call_and_validate(session=fuzzer.session, headers=fuzzer.auth(case), checks=CHECKS,
                               timeout=60)

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
