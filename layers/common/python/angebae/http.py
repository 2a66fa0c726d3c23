"""What every HTTP function shares: the Chalice app, errors -> HTTP, JSON bodies, CORS, request logs.

`create_app(name)` returns a Chalice app whose routes are wrapped once: a domain `AppError` becomes
`{"error": {"code", "message"}}` with its status; anything unexpected is logged and becomes a 500
with the same shape (never a stack trace); one JSON log line per request.

A route also says what it reads and answers, for the OpenAPI description (`angebae.openapi`, never
imported by the functions): `body=`/`query=` the models the view validates with `json_body`/
`query_model`, `responses={status: schema name}` its answers, `public=True` when it needs no session.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalice import Chalice, Response
from pydantic import BaseModel, ValidationError

from angebae import audit, json_input, logs, metrics
from angebae.errors import (
    AppError,
    BadRequest,
    InvalidJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from angebae.formats import json_default
from angebae.settings import get_settings

log = logging.getLogger("angebae.http")
# Far above any body the routes take (a product with its largest fields is about 150 KB), far below
# the 6 MB a Lambda invocation may carry.
MAX_BODY_BYTES = 1024 * 1024
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class RouteDoc:
    """What the OpenAPI description says of one route (nothing here runs at request time)."""
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, str] = field(default_factory=lambda: {200: "Object"})
    public: bool = False


class Api(Chalice):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.docs: dict[tuple[str, str], RouteDoc] = {}

    def route(self, path: str, *, body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              responses: dict[int, str] | None = None, public: bool = False, **kwargs: Any):
        register = super().route(path, **kwargs)

        def decorator(view):
            @functools.wraps(view)
            def guarded(*args, **kw):
                # Every audit row written while this request runs names the address it came from.
                source = audit.SOURCE_IP.set(source_ip(self.current_request))
                try:
                    return view(*args, **kw)
                except AppError as exc:
                    return error_response(exc)
                except Exception:
                    log.exception("unhandled error in %s %s", kwargs.get("methods", ["GET"]), path)
                    return error_response(AppError())
                finally:
                    audit.SOURCE_IP.reset(source)

            summary = (view.__doc__ or view.__name__.replace("_", " ")).strip().split("\n")[0]
            for method in kwargs.get("methods", ["GET"]):
                self.docs[(method.upper(), path)] = RouteDoc(summary, body, query,
                                                             responses or {200: "Object"}, public)
            return register(guarded)

        return decorator

    def __call__(self, event: Any, context: Any) -> Any:
        # A CORS preflight of a route this function serves is answered here, on every engine: API
        # Gateway answers it with the MOCK integration SAM generates (`Cors:` in the template), but
        # an engine may send it on to the function instead (MiniStack's MOCK answers without any
        # Access-Control header, so `angebae local --engine ministack` routes it here).
        if isinstance(event, dict) and event.get("httpMethod") == "OPTIONS":
            methods = self.routes.get(event.get("resource") or "", {})
            if methods and "OPTIONS" not in methods:
                return preflight(event, sorted(methods), get_settings().cors_origins)
        return super().__call__(event, context)

    def signed_in(self, role: str = "viewer", *, setup_ok: bool = False) -> dict:
        """The admin behind the current request: 401 without a valid session, 403 below `role` (and,
        unless `setup_ok`, while their role requires a second factor they have not enrolled)."""
        from angebae.auth import (
            sessions,  # not at module level: /health needs no JWT library on its cold start
        )
        from angebae.db import get_database

        return sessions.current_admin(get_database(), get_settings(), self.current_request, role=role,
                                  setup_ok=setup_ok)


def create_app(name: str) -> Api:
    settings = get_settings()  # fail at cold start, naming the missing variable
    logs.configure(settings.log_level)
    app = Api(app_name=name)
    app.log.setLevel(settings.log_level)

    @app.middleware("http")
    def access_log_and_cors(event, get_response):
        started = time.perf_counter()
        route = event.context.get("resourcePath")
        # Every line of the request carries function, request_id and cold_start (angebae.logs).
        with logs.invocation(name, event.lambda_context, event.context.get("requestId")):
            response = _project_error(get_response(event))
            _add_cors(event, response, settings.cors_origins)
            logs.log_fields(log, logging.INFO, "request", method=event.method, route=route,
                            status=response.status_code,
                            duration_ms=round((time.perf_counter() - started) * 1000, 2))
            metrics.http_outcome(name, route, response.status_code)
        return response

    return app


# What Chalice answers by itself before a view runs ({"Code": "UnsupportedMediaType", "Message": ...}
# for a content type a route does not take, MethodNotAllowedError, its own 500s) in the project's shape.
_CHALICE_ERRORS: dict[int, type[AppError]] = {400: BadRequest, 404: NotFound, 405: MethodNotAllowed,
                                              415: UnsupportedMediaType}


def _project_error(response: Response) -> Response:
    body = response.body
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return response
    kind = _CHALICE_ERRORS.get(response.status_code)
    if kind is None:
        error = AppError()  # its own 500 and anything new: never Chalice's message
    elif kind is UnsupportedMediaType:
        error = kind(f"{body['Message']}; send the body as application/json.")
    else:
        error = kind(str(body["Message"]))
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return Response(body=error.to_body(), status_code=error.status,
                    headers={"Content-Type": "application/json", **headers, **error.headers})


def location(request, path: str) -> str:
    """A Location header for `path` (a route's path) as the client reaches it: behind the stage or a
    custom domain's base path when the request came through one (`/v1/products/...`)."""
    full = (request.context or {}).get("path") or ""
    own = request.to_original_event().get("path") or ""
    prefix = full[: -len(own)] if own and full.endswith(own) else ""
    return prefix + path


# What a preflight allows, as the template's `Cors:` block says (AllowHeaders, MaxAge).
CORS_ALLOW_HEADERS = "Content-Type,Authorization,If-Match"
CORS_MAX_AGE_SECONDS = 600


def preflight(event: dict, methods: list[str], allowed: tuple[str, ...]) -> dict:
    """The proxy response to a CORS preflight: 204, with the Access-Control headers only when the
    Origin is in the allowlist (a browser then refuses the real request for any other origin)."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    origin = headers.get("origin")
    out = {"Vary": "Origin"}
    if origin and origin in allowed:
        out.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ",".join([*methods, "OPTIONS"]),
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
        })
    return {"statusCode": 204, "headers": out, "multiValueHeaders": {}, "body": "", "isBase64Encoded": False}


def _add_cors(request, response: Response, allowed: tuple[str, ...]) -> None:
    origin = request.headers.get("origin")
    if origin and origin in allowed:
        response.headers.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        })


def error_response(exc: AppError) -> Response:
    return Response(body=exc.to_body(), status_code=exc.status,
                    headers={"Content-Type": "application/json", **exc.headers})


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    # Money and times in the API's one format (angebae.formats), whatever a route hands over.
    return Response(body=json.dumps(body, default=json_default), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def json_body(request, model: type[M]) -> M:
    """Parse and validate a JSON body: 415 for another content type, 413 over MAX_BODY_BYTES, 400 for
    bad JSON or fields."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType()
    raw = request.raw_body or b"{}"
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is over {MAX_BODY_BYTES} bytes.",
                              details={"max_bytes": MAX_BODY_BYTES})
    data = json_input.loads(raw)
    if not isinstance(data, dict):
        raise InvalidJson("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details={"fields": [
            {"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]}) from None


def query_model(request, model: type[M]) -> M:
    """Validate query-string parameters against a model (400 naming the bad parameter)."""
    params = dict(request.query_params or {})
    json_input.check(params)
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise ValidationFailed("The query string has invalid parameters.", details={"fields": [
            {"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]}) from None


def path_uuid(value: str) -> uuid.UUID:
    """A path id that is not a UUID names nothing: 404, not a database error."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        raise NotFound() from None


def source_ip(request) -> str:
    return (request.context.get("identity") or {}).get("sourceIp") or "unknown"
