"""The OpenAPI 3.1 description of the HTTP API, generated from the code so it cannot drift.

Routes come from the Chalice apps under functions/ (their paths and methods), and what each route
reads and answers from the route's declaration (`body=`, `query=`, `responses=`, `role=` or
`public=` in `angebae.http`): request bodies and query parameters are the request models' JSON
schemas, answers the response models' (`angebae.responses`, as the routes write them: serialization
mode), errors share one schema (`responses.Error`). The functions never import this module (it is
for tooling: the local stack's /openapi.json, tests, `python -m`).

`python -m angebae.openapi [ROOT] [--local]` prints the description (with placeholder settings where
the environment has none: nothing is connected to); `build()` runs that in a subprocess, so
importing the apps (which read their settings at import) never touches the caller's environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from angebae import responses
from angebae.http import ROLES

TITLE = "angebae admin API"
STRING = {"type": "string"}
# Enough for the apps to import; nothing is connected to while the description is built.
IMPORT_ENV = {
    "DATABASE_URL": "postgresql://localhost/unused",
    "JWT_SECRET": "openapi-" + "x" * 40,
    "TOTP_ENCRYPTION_KEY": "openapi-" + "t" * 40,
    "MEDIA_BUCKET": "bucket",
    "OCR_QUEUE_URL": "http://localhost/queue",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LOG_LEVEL": "WARNING",
}
AUTO_ERRORS = {
    400: "The request is not valid (fields, JSON, query string or cursor).",
    401: "No session, or an invalid, expired or revoked one.",
    403: "The role does not allow this action.",
    404: "The resource does not exist.",
    413: "The body is over 1 MiB (`payload_too_large`).",
    415: "The body was not sent as application/json.",
    412: "If-Match names a version the row no longer has, or only weak tags "
    "(`stale_version`, the current ETag in the header).",
    428: "Neither an If-Match header nor a `version` field (`version_required`).",
    429: "Throttled: API Gateway's limits for this method (`too_many_requests`), or, on "
    "login and the account's proofs, too many failures (`Retry-After`).",
    503: "A backing service (database, storage, queue) is unavailable or failed "
    "(`database_error` names the SQLSTATE in details).",
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The `token` of POST /admin/login.",
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-angebae_session",
        "description": "Set by POST /admin/login (HTTPS deployments).",
    },
    "localSessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "angebae_session",
        "description": "Set by POST /admin/login when COOKIE_SECURE=false (local).",
    },
}


def repo_root() -> Path:
    """The checkout holding template.yaml and functions/: next to this layer, else above the cwd."""
    for start in (Path(__file__).resolve().parents[3], Path.cwd().resolve()):
        for path in (start, *start.parents):
            if (path / "template.yaml").is_file() and (path / "functions").is_dir():
                return path
    raise FileNotFoundError("no template.yaml with functions/ found")


def load_apps(root: Path) -> dict[str, Any]:
    """{function name: its Chalice app}, each app.py imported under a module name of its own."""
    from chalice import Chalice

    apps = {}
    for app_file in sorted((root / "functions").glob("*/app.py")):
        name = f"_openapi_{app_file.parent.name}"
        spec = importlib.util.spec_from_file_location(name, app_file)
        assert spec is not None and spec.loader is not None, app_file
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        if isinstance(getattr(module, "app", None), Chalice):
            apps[app_file.parent.name] = module.app
    return apps


def _model_schema(
    model: type[BaseModel],
    schemas: dict[str, dict],
    mode: Literal["validation", "serialization"] = "validation",
) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, sub in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, sub) != sub:
            raise ValueError(f"two different models are named {name}")
    return schema


def _query_parameters(model: type[BaseModel], schemas: dict[str, dict]) -> list[dict]:
    schema = _model_schema(model, schemas)
    schemas.pop(model.__name__)  # a query model is spelled out as parameters, not referenced
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


# Rows whose `version` is their ETag (angebae.concurrency), on the routes that send and take it.
VERSIONED = {
    m.__name__ for m in (responses.Product, responses.Category, responses.Admin, responses.Candidate)
}
VERSIONED_PATHS = ("/products", "/categories", "/admin/users", "/candidates/{id}")
HEADERS = {
    "ETag": {
        "description": 'The row\'s version, a strong entity tag (`"3"`): send it back as If-Match.',
        "schema": STRING,
    },
    "Location": {"description": "Where the created row is read (behind the stage's path).", "schema": STRING},
    "Location-202": {
        "description": "Where the accepted job is followed (behind the stage's path).",
        "schema": STRING,
    },
    "Location-303": {
        "description": "The file's presigned download link (`curl -L` follows it).",
        "schema": STRING,
    },
    "WWW-Authenticate": {"description": '`Bearer realm="angebae"`', "schema": STRING},
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": STRING,
    "description": 'The ETag read (`"3"`), a list of them, or `*`; compared strongly, so a '
    'weak tag (`W/"3"`) never matches. A PATCH without it (or a `version` field) '
    "is 428.",
}


def _versioned(path: str) -> bool:
    return path.startswith(VERSIONED_PATHS) and not path.endswith(("/two-factor", "/candidates"))


def _response_schema(model: type[BaseModel], schemas: dict[str, dict]) -> str:
    """The component name of a route's answer: its response model, whose serialization schema (what
    the route writes) is added with the models it refers to."""
    _model_schema(model, schemas, mode="serialization")
    return model.__name__


def _responses(doc, path: str, has_id: bool, schemas: dict[str, dict]) -> dict:
    statuses = {status: _response_schema(model, schemas) for status, model in doc.responses.items()}
    auto = {429, 503} | ({400, 413, 415} if doc.body else set()) | ({400} if doc.query else set())
    auto |= set() if doc.public else {401, 403}
    auto |= {404} if has_id else set()
    auto |= {400} if 412 in statuses else set()  # an If-Match that is no entity tag
    for status in auto:
        statuses.setdefault(status, "Error")
    out = {}
    for status in sorted(statuses):
        name = statuses[status]
        description = doc.summary if status < 400 else AUTO_ERRORS.get(status, "See the error code.")
        out[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": ref(name)}},
        }
        headers = {}
        if status < 300 and name in VERSIONED and _versioned(path):
            headers["ETag"] = HEADERS["ETag"]
        if status in (201, 202, 303):
            headers["Location"] = HEADERS["Location" if status == 201 else f"Location-{status}"]
        if status == 401:
            headers["WWW-Authenticate"] = HEADERS["WWW-Authenticate"]
        if status == 412:
            headers["ETag"] = HEADERS["ETag"]
        if headers:
            out[str(status)]["headers"] = headers
    return out


def _who(doc) -> str:
    if doc.public:
        return "No session needed."
    higher = ROLES[ROLES.index(doc.role) + 1 :]
    also = f" (or {' or '.join(higher)})" if higher else ""
    setup = " Reachable before enrolling a second factor the role requires." if doc.setup_ok else ""
    return f"Needs a session of role {doc.role}{also}.{setup}"


def describe(apps: dict[str, Any], *, local: bool = False) -> dict:
    """The OpenAPI document of these apps' routes: behind API Gateway's stage, or (`local`) as the
    embedded stack serves them, at the root."""
    schemas: dict[str, dict] = {}
    _model_schema(responses.Error, schemas, mode="serialization")
    paths: dict[str, dict] = {}
    for function, app in sorted(apps.items()):
        for path, methods in app.routes.items():
            params = re.findall(r"\{(\w+)\}", path)
            for method in methods:
                doc = app.docs[(method, path)]
                op: dict[str, Any] = {
                    "operationId": f"{function}.{app.routes[path][method].view_name}",
                    "summary": doc.summary,
                    "description": _who(doc),
                    "tags": [function],
                    "parameters": [
                        {
                            "name": p,
                            "in": "path",
                            "required": True,
                            "schema": (
                                {"type": "integer", "minimum": 1}
                                if p == "n"
                                else {"type": "string", "format": "uuid"}
                            ),
                        }
                        for p in params
                    ],
                }
                if doc.query:
                    op["parameters"] += _query_parameters(doc.query, schemas)
                if method in ("PATCH", "DELETE") and _versioned(path) and 412 in doc.responses:
                    op["parameters"].append({**IF_MATCH, "required": False})
                if doc.body:
                    op["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": ref(doc.body.__name__)}},
                    }
                    _model_schema(doc.body, schemas)
                op["responses"] = _responses(doc, path, bool(params), schemas)
                if not doc.public:
                    op["x-role"] = doc.role
                op["security"] = (
                    [] if doc.public else [{"bearer": []}, {"sessionCookie": []}, {"localSessionCookie": []}]
                )
                paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "1",
            "description": 'Errors are `{"error": {"code", "message", "details"?}}`. '
            "Send the session as a bearer token or the cookie login sets. "
            "Every answer writes money as a decimal string with 2 to 4 decimals "
            '("1234.56", "0.1234") and times as RFC 3339 in UTC with '
            'microseconds ("2026-12-02T00:21:40.123456Z").',
        },
        # API Gateway serves the API behind its stage (template.yaml's Stage, default v1).
        "servers": (
            [{"url": "/", "description": "the embedded local stack"}]
            if local
            else [
                {
                    "url": "/{stage}",
                    "variables": {"stage": {"default": "v1", "description": "the API Gateway stage"}},
                }
            ]
        ),
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES},
    }


def generate(root: Path | None = None, *, local: bool = False) -> dict:
    """The description, built in this process (the apps read settings from os.environ at import)."""
    return describe(load_apps(root or repo_root()), local=local)


def build(root: Path | None = None, *, local: bool = False) -> dict:
    """The description, built in a subprocess with just enough settings for the apps to import."""
    env = {**os.environ, **IMPORT_ENV}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")])
    )
    out = subprocess.run(
        [sys.executable, "-m", "angebae.openapi", str(root or repo_root()), *(["--local"] if local else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m angebae.openapi",
        description="Print the OpenAPI 3.1 description of the HTTP API (JSON), "
        "generated from the Chalice apps under ROOT/functions.",
    )
    parser.add_argument(
        "root",
        nargs="?",
        type=Path,
        metavar="ROOT",
        help="the repository (default: the one this module is in)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="as the embedded local stack serves it (server /, no stage; its session cookie)",
    )
    options = parser.parse_args()
    for key, value in IMPORT_ENV.items():  # the apps import with placeholders; nothing is connected to
        os.environ.setdefault(key, value)
    print(json.dumps(generate(options.root, local=options.local), indent=2))
