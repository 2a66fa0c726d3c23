"""Helpers for tests: load a function as Lambda would, build REST API (v1 proxy) events, call them."""

from __future__ import annotations

import base64
import functools
import importlib.util
import itertools
import json
import sys
import uuid
from pathlib import Path

from angebae.db import get_database
from angebae.settings import get_settings
from angebae_local.db import scratch_server_url, with_dbname  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()


def load_function(name: str):
    """Import functions/<name>/app.py as a fresh module: a cold start with the current environment."""
    get_settings.cache_clear()
    get_database.cache_clear()
    path = ROOT / "functions" / name / "app.py"
    module_name = f"fn_{name}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:test"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def rest_event(
    method: str,
    resource: str,
    *,
    path: str | None = None,
    body=None,
    headers=None,
    query=None,
    path_params=None,
    source_ip="203.0.113.7",
) -> dict:
    """An API Gateway REST (payload 1.0) proxy event, as the template's Api events deliver it."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    is_binary = isinstance(body, bytes)
    return {
        "resource": resource,
        "path": path or resource,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/Prod{path or resource}",
            "stage": "Prod",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": "pytest"},
        },
        "body": base64.b64encode(body).decode() if is_binary else body,
        "isBase64Encoded": is_binary,
    }


def call(module, event: dict) -> dict:
    """Invoke a function module's handler; the body is parsed when it is JSON."""
    response = module.app(event, LambdaContext())
    body = response.get("body")
    try:
        response["json"] = json.loads(body) if body else None
    except ValueError:
        response["json"] = None
    return response


def set_cookies(response: dict) -> list[str]:
    multi = response.get("multiValueHeaders") or {}
    values = multi.get("Set-Cookie") or multi.get("set-cookie") or []
    single = (response.get("headers") or {}).get("Set-Cookie")
    return list(values) + ([single] if single else [])


@functools.cache
def postgres_server_url() -> str:
    """TEST_DATABASE_URL, else the local server on 127.0.0.1:5432, else an embedded pgserver."""
    return scratch_server_url("TEST_DATABASE_URL", ROOT / ".local" / "test-pgdata")
