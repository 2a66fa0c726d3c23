"""The OpenAPI description: generated from the apps, equal to the template's API events, valid 3.1,
its declared models the ones the views validate with, and never imported by a function."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from angebae import openapi
from angebae_local.docs_page import HTML as DOCS_HTML
from angebae_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = sorted((ROOT / "functions").glob("*/app.py"))


@pytest.fixture(scope="module")
def spec() -> dict:
    return openapi.build(ROOT)  # as the local stack builds it: in a subprocess


def operations(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def test_every_api_event_has_an_operation_and_every_operation_an_event(spec):
    template = Template(ROOT / "template.yaml")
    events = {(r.method, r.path) for fn in template.functions() for r in fn.api_routes}
    assert events and operations(spec) == events


def test_the_description_is_valid_openapi_3_1(spec):
    from openapi_spec_validator import validate

    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_protected_operations_document_401_and_public_ones_need_no_session(spec):
    public = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert "503" in op["responses"] and any(s < "400" for s in op["responses"]), (method, path)
            if op["security"]:
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            else:
                public.add((method.upper(), path))
            if "requestBody" in op:
                assert {"400", "415"} <= set(op["responses"]), (method, path)
    assert public == {("GET", "/health"), ("POST", "/admin/login")}
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "sessionCookie", "localSessionCookie"}


def test_request_bodies_and_queries_are_the_models_json_schemas(spec):
    from angebae.models import ProductCreate, ProductQuery

    schemas = spec["components"]["schemas"]
    op = spec["paths"]["/products"]
    body = op["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/ProductCreate")
    assert schemas["ProductCreate"]["properties"].keys() == ProductCreate.model_fields.keys()
    assert schemas["ProductCreate"]["additionalProperties"] is False
    assert {p["name"] for p in op["get"]["parameters"]} == set(ProductQuery.model_fields)


def _declared_and_used(app_file: Path):
    """Per view: (models named in body=/query= of @app.route, models passed to json_body/query_model)."""
    for fn in ast.parse(app_file.read_text()).body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        for deco in fn.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "attr", None) == "route":
                declared = {kw.arg: kw.value.id for kw in deco.keywords if kw.arg in ("body", "query")}
                used = {
                    {"json_body": "body", "query_model": "query"}[call.func.id]: call.args[1].id
                    for call in ast.walk(fn)
                    if isinstance(call, ast.Call)
                    and getattr(call.func, "id", None) in ("json_body", "query_model")
                }
                yield fn.name, declared, used


@pytest.mark.parametrize("app_file", APP_FILES, ids=lambda p: p.parent.name)
def test_declared_models_are_the_ones_each_view_validates(app_file):
    for view, declared, used in _declared_and_used(app_file):
        assert declared == used, f"{app_file.parent.name}.{view}: declared {declared}, validates {used}"


def test_functions_never_import_the_openapi_module():
    code = (
        "import runpy, sys, os\n"
        "for f in sys.argv[1:]:\n"
        "    sys.path.insert(0, os.path.dirname(f)); runpy.run_path(f)\n"
        "print('angebae.openapi' in sys.modules)"
    )
    env = {**openapi.IMPORT_ENV, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers/common/python")}
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, APP_FILES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_docs_page_needs_nothing_from_the_network():
    assert "http://" not in DOCS_HTML and "https://" not in DOCS_HTML and "<link" not in DOCS_HTML
    assert 'src="' not in DOCS_HTML and 'fetch("/openapi.json")' in DOCS_HTML


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_docs_page_renders_every_operation(spec, tmp_path):
    script = DOCS_HTML.split("<script>")[1].split("</script>")[0]
    harness = (
        """
const els = {}; const el = id => (els[id] ||= {textContent: "", innerHTML: "", addEventListener() {}});
globalThis.document = {getElementById: el, querySelectorAll: () => []};
globalThis.fetch = () => Promise.resolve({json: () => Promise.resolve(SPEC)});
"""
        + script
        + "\nsetTimeout(() => console.log(JSON.stringify({title: els.title.textContent, "
        "html: els.ops.innerHTML})), 50);"
    )
    (tmp_path / "page.js").write_text(harness.replace("SPEC", json.dumps(spec)))
    out = json.loads(
        subprocess.run(
            ["node", str(tmp_path / "page.js")], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    )
    assert out["title"].startswith(openapi.TITLE)
    for method, path in operations(spec):
        row = f'<span class="m {method.lower()}">{method}</span><span class="path">{path}</span>'
        assert row in out["html"]
    assert "ProductCreate" in out["html"] and "session required" in out["html"]


# --- issue 10: the stage in servers, ETag/If-Match, Location, WWW-Authenticate, no settings needed ------


def test_the_aws_description_names_the_stage_and_the_local_one_the_root(spec):
    assert spec["servers"] == [
        {"url": "/{stage}", "variables": {"stage": {"default": "v1", "description": "the API Gateway stage"}}}
    ]
    assert Template(ROOT / "template.yaml").parameter("Stage") == "v1"
    local = openapi.build(ROOT, local=True)
    assert local["servers"] == [{"url": "/", "description": "the embedded local stack"}]


@pytest.mark.parametrize("path", ["/products/{id}", "/categories/{id}", "/admin/users/{id}"])
def test_versioned_rows_document_their_etag_and_if_match(spec, path):
    patch = spec["paths"][path]["patch"]
    (if_match,) = [p for p in patch["parameters"] if p["name"] == "If-Match"]
    assert if_match["in"] == "header" and "strongly" in if_match["description"]
    assert {"412", "428"} <= set(patch["responses"])
    assert "ETag" in patch["responses"]["200"]["headers"] and "ETag" in patch["responses"]["412"]["headers"]
    assert "ETag" in spec["paths"][path]["get"]["responses"]["200"]["headers"]


def test_every_201_documents_its_location_and_every_401_its_scheme(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if "201" in op["responses"]:
                assert "Location" in op["responses"]["201"]["headers"], (method, path)
            if "401" in op["responses"]:
                assert "WWW-Authenticate" in op["responses"]["401"]["headers"], (method, path)


def test_python_m_openapi_needs_no_settings_in_the_environment():
    # GIVEN an environment without DATABASE_URL or JWT_SECRET, as its docstring offers
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers/common/python")}
    out = subprocess.run(
        [sys.executable, "-m", "angebae.openapi", str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "/products/{id}" in json.loads(out.stdout)["paths"]
