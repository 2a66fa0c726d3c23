"""CORS preflights answered by the functions themselves (issue 12): an engine that routes OPTIONS to
the function (MiniStack, whose MOCK integration answers without Access-Control headers) still lets a
browser front-end on an allowed origin call the API; any other origin gets no Access-Control header."""

from __future__ import annotations

import pytest
from support import call, load_function, rest_event

FRONT_END = "https://admin.angebae.example"
PREFLIGHT = {
    "Origin": FRONT_END,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


@pytest.fixture
def login_fn(env, monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", f"http://localhost:5173,{FRONT_END}")
    return load_function("login")


def test_a_preflight_from_an_allowed_origin_is_answered_with_its_headers(login_fn):
    response = call(login_fn, rest_event("OPTIONS", "/admin/login", headers=PREFLIGHT))

    # before: Chalice answered 405 method_not_allowed, and the browser never sent the login
    assert response["statusCode"] == 204
    headers = response["headers"]
    assert headers["Access-Control-Allow-Origin"] == FRONT_END  # the asking origin, not only the first
    assert headers["Access-Control-Allow-Methods"] == "POST,OPTIONS"
    assert "Content-Type" in headers["Access-Control-Allow-Headers"].split(",")
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Vary"] == "Origin"


def test_a_preflight_names_the_methods_of_its_resource(login_fn):
    headers = call(login_fn, rest_event("OPTIONS", "/admin/me", headers=PREFLIGHT))["headers"]
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"


def test_a_preflight_from_another_origin_gets_no_access_control_header(login_fn):
    response = call(
        login_fn,
        rest_event("OPTIONS", "/admin/login", headers={**PREFLIGHT, "Origin": "https://evil.example"}),
    )
    assert response["statusCode"] == 204
    assert not [h for h in response["headers"] if h.lower().startswith("access-control-")]


def test_an_options_request_on_a_route_the_function_does_not_serve_is_no_preflight_answer(login_fn):
    response = call(login_fn, rest_event("OPTIONS", "/products", headers=PREFLIGHT))
    assert 400 <= response["statusCode"] < 500
    assert "Access-Control-Allow-Methods" not in response["headers"]
