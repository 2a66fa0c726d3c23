"""What every HTTP function shares: the Chalice app, errors -> HTTP, JSON bodies, CORS, request logs.

`create_app(name)` returns a Chalice app whose routes are wrapped once: a domain `AppError` becomes
`{"error": {"code", "message"}}` with its status; anything unexpected is logged and becomes a 500
with the same shape (never a stack trace); one JSON log line per request.

A route declares who may call it, and the wrapper enforces it before the view runs (issue 10):
`role="viewer" | "editor" | "admin"` (each role includes those before it) needs a valid session of
at least that role (401 without one, 403 below it, 403 `two_factor_setup_required` while the role
requires a second factor the account has not enrolled, unless `setup_ok=True`: the routes that let
it enrol); the view reads the admin as `app.current_admin`. `public=True` needs no session. Deny by
default: a route that declares neither is refused when the app is imported (a function that forgot
cannot start, rather than answer anyone).

A route also declares what it answers: `responses={status: model}` with the response models of
`angebae.responses`. The view returns `json_response(value, status, headers)` (or a plain value for
200); the wrapper validates the value through that status's model and writes the model's JSON, so a
field the model lacks never leaves, and a missing one or a status the route does not declare is a
500 `response_contract` (logged). With `ANGEBAE_STRICT_RESPONSES=1` (the tests set it) the 500 names
what failed, and a field the view gave that the model lacks fails too. `body=`/`query=` name
the models the view validates with `json_body`/`query_model`. The OpenAPI description
(`angebae.openapi`, never imported by the functions) is generated from these declarations.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalice import Chalice, Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from angebae import audit, json_input, logs, metrics
from angebae.db import get_database
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
ROLES = ("viewer", "editor", "admin")  # as angebae.auth.sessions.ROLES: each includes those before it
# Set to 1 (the tests do) and a response that does not match its model fails naming why, as does a
# field the view gives that the model lacks; otherwise such fields are dropped.
STRICT_ENV = "ANGEBAE_STRICT_RESPONSES"
_ADMIN: contextvars.ContextVar[dict | None] = contextvars.ContextVar("angebae_admin", default=None)


@dataclass(frozen=True)
class RouteDoc:
    """What a route declares: who may call it, what it reads and answers (the OpenAPI description's
    source; `role`/`setup_ok`/`public` and `responses` are also enforced at request time)."""

    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, Any] = field(default_factory=dict)
    public: bool = False
    role: str | None = None
    setup_ok: bool = False


class ResponseContract(Exception):
    """A view's value does not match the response model its route declares (a bug, never the client's)."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def to_error(self, strict: bool) -> AppError:
        if strict:
            return ContractBroken(str(self), details={"problems": self.problems})
        return ContractBroken()


class ContractBroken(AppError):
    code = "response_contract"


class JsonAnswer(Response):
    """What `json_response` returns: the value, written by the route wrapper through its model."""

    def __init__(self, value: Any, status_code: int, headers: dict) -> None:
        super().__init__(body=None, status_code=status_code, headers=headers)
        self.value = value


class Api(Chalice):
    current_request: Request  # Chalice sets it before a view runs (Optional only between requests)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.docs: dict[tuple[str, str], RouteDoc] = {}

    def route(
        self,
        path: str,
        *,
        role: str | None = None,
        public: bool = False,
        setup_ok: bool = False,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        responses: dict[int, Any] | None = None,
        **kwargs: Any,
    ):
        methods = [m.upper() for m in kwargs.get("methods", ["GET"])]
        where = f"{'/'.join(methods)} {path}"
        if public and (role or setup_ok):
            raise TypeError(f"{where}: public=True takes no role= or setup_ok=")
        if role is not None and role not in ROLES:
            raise ValueError(f"{where}: role={role!r} is none of {', '.join(ROLES)}")
        if not public and role is None:
            raise TypeError(f"{where}: declare role= ({', '.join(ROLES)}) or public=True")
        needed = role or "viewer"  # (a role is declared unless public)
        if not public:
            from angebae.auth import sessions  # here, not at the top: /health's cold start needs no JWT
        declared = dict(responses or {})
        if not declared or not all(
            isinstance(m, type) and issubclass(m, BaseModel) for m in declared.values()
        ):
            raise TypeError(f"{where}: responses= maps each status to a response model (angebae.responses)")
        register = super().route(path, **kwargs)
        strict = os.environ.get(STRICT_ENV) == "1"

        def decorator(view):
            @functools.wraps(view)
            def guarded(*args, **kw):
                # Every audit row written while this request runs names the address it came from.
                source = audit.SOURCE_IP.set(source_ip(self.current_request))
                admin = _ADMIN.set(None)
                try:
                    if not public:
                        request = self.current_request
                        _ADMIN.set(
                            sessions.current_admin(
                                get_database(), get_settings(), request, role=needed, setup_ok=setup_ok
                            )
                        )
                    return render(view(*args, **kw), declared, strict)
                except AppError as exc:
                    return error_response(exc)
                except ResponseContract as exc:
                    log.error("%s answers outside its contract: %s %s", where, exc, exc.problems)
                    return error_response(exc.to_error(strict))
                except Exception:
                    log.exception("unhandled error in %s", where)
                    return error_response(AppError())
                finally:
                    _ADMIN.reset(admin)
                    audit.SOURCE_IP.reset(source)

            summary = (view.__doc__ or view.__name__.replace("_", " ")).strip().split("\n")[0]
            for method in methods:
                self.docs[(method, path)] = RouteDoc(summary, body, query, declared, public, role, setup_ok)
            return register(guarded)

        return decorator

    @property
    def current_admin(self) -> dict:
        """The signed-in admin of the current request (its route declared `role=`)."""
        admin = _ADMIN.get()
        if admin is None:
            raise RuntimeError("current_admin is only known on a route that declares role=")
        return admin

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
            logs.log_fields(
                log,
                logging.INFO,
                "request",
                method=event.method,
                route=route,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            metrics.http_outcome(name, route, response.status_code)
        return response

    return app


# What Chalice answers by itself before a view runs ({"Code": "UnsupportedMediaType", "Message": ...}
# for a content type a route does not take, MethodNotAllowedError, its own 500s) in the project's shape.
_CHALICE_ERRORS: dict[int, type[AppError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    415: UnsupportedMediaType,
}


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
    return Response(
        body=error.to_body(),
        status_code=error.status,
        headers={"Content-Type": "application/json", **headers, **error.headers},
    )


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
        out.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ",".join([*methods, "OPTIONS"]),
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
            }
        )
    return {"statusCode": 204, "headers": out, "multiValueHeaders": {}, "body": "", "isBase64Encoded": False}


def _add_cors(request, response: Response, allowed: tuple[str, ...]) -> None:
    origin = request.headers.get("origin")
    if origin and origin in allowed:
        response.headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin",
            }
        )


def error_response(exc: AppError) -> Response:
    return Response(
        body=exc.to_body(),
        status_code=exc.status,
        headers={"Content-Type": "application/json", **exc.headers},
    )


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON answer; the route wrapper writes `body` through the model its route declares for
    `status` (money and times in the API's one format, angebae.formats)."""
    return JsonAnswer(body, status, {"Content-Type": "application/json", **(headers or {})})


def render(result: Any, declared: dict[int, Any], strict: bool = False) -> Any:
    """A view's result as the response: a JSON answer (or a plain value, 200) through its status's
    response model. ResponseContract when the route declares no model for the status or the value
    does not match it (in `strict`, also when the value holds a field the model lacks)."""
    if not isinstance(result, Response):
        result = json_response(result)
    if not isinstance(result, JsonAnswer) or result.body is not None:
        return result
    model = declared.get(result.status_code)
    if model is None:
        raise ResponseContract(
            f"status {result.status_code} is none the route declares", [{"declared": sorted(declared)}]
        )
    try:
        result.body = model.model_validate(result.value).model_dump_json(exclude_unset=True)
    except ValidationError as exc:
        raise ResponseContract(
            f"the answer is no {model.__name__}",
            [
                {"field": field_name(err["loc"]), "problem": err["msg"]}
                for err in exc.errors(include_url=False, include_input=False)
            ],
        ) from None
    if strict:
        extra = list(
            _extra_fields(json.loads(json.dumps(result.value, default=json_default)), json.loads(result.body))
        )
        if extra:
            raise ResponseContract(
                f"{model.__name__} lacks fields the view gives",
                [{"field": name, "problem": "not in the model"} for name in extra],
            )
    return result


def _extra_fields(given: Any, sent: Any, at: str = ""):
    """Where `given` (the view's value as JSON) holds an object key that `sent` (the model's JSON) lacks."""
    if isinstance(given, dict) and isinstance(sent, dict):
        for key, value in given.items():
            if key not in sent:
                yield f"{at}{key}"
            else:
                yield from _extra_fields(value, sent[key], f"{at}{key}.")
    elif isinstance(given, list) and isinstance(sent, list):
        for n, (value, out) in enumerate(zip(given, sent, strict=False)):
            yield from _extra_fields(value, out, f"{at}{n}.")


# Parts of a pydantic error's location that name the union member tried, not a field:
# ("status", "literal['pending','accepted']") is the field `status`.
_TYPE_TAG = re.compile(r"^[a-z][a-z0-9_-]*\[.*\]$|^(int|float|str|bool|decimal|none|list|dict|uuid)$")


def field_name(loc: tuple) -> str:
    """The field an error is about, as a client wrote it: `items.0.price`, never the type tags."""
    return ".".join(
        str(part)
        for n, part in enumerate(loc)
        if n == 0 or not (isinstance(part, str) and _TYPE_TAG.match(part))
    )


def json_body(request, model: type[M]) -> M:
    """Parse and validate a JSON body: 415 for another content type, 413 over MAX_BODY_BYTES, 400 for
    bad JSON or fields."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType()
    raw = request.raw_body or b"{}"
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The request body is over {MAX_BODY_BYTES} bytes.", details={"max_bytes": MAX_BODY_BYTES}
        )
    data = json_input.loads(raw)
    if not isinstance(data, dict):
        raise InvalidJson("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            details={
                "fields": [
                    {"field": field_name(err["loc"]), "problem": err["msg"]}
                    for err in exc.errors(include_url=False, include_input=False)
                ]
            }
        ) from None


def query_model(request, model: type[M]) -> M:
    """Validate query-string parameters against a model (400 naming the bad parameter)."""
    params = dict(request.query_params or {})
    json_input.check(params)
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise ValidationFailed(
            "The query string has invalid parameters.",
            details={
                "fields": [
                    {"field": field_name(err["loc"]), "problem": err["msg"]}
                    for err in exc.errors(include_url=False, include_input=False)
                ]
            },
        ) from None


def path_uuid(value: str) -> uuid.UUID:
    """A path id that is not a UUID names nothing: 404, not a database error."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        raise NotFound() from None


def source_ip(request) -> str:
    return (request.context.get("identity") or {}).get("sourceIp") or "unknown"
