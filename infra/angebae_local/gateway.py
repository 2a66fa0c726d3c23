"""API Gateway (REST API, proxy integration v1) emulation over http.server.

Each `Type: Api` event of the template is a route; a request becomes the event API Gateway would
send, the function's proxy response goes back as HTTP (multi-value headers, base64 bodies).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .docs_page import HTML as DOCS_HTML
from .runner import InvokeResult
from .template import ApiRoute
from .throttle import Throttle

log = logging.getLogger("angebae.local.gateway")

Invoker = Callable[[ApiRoute, dict[str, Any]], InvokeResult]
_TEXT_TYPES = re.compile(r"^(text/|application/(json|x-www-form-urlencoded|xml|.*\+json))", re.I)


@dataclass(frozen=True)
class CompiledRoute:
    route: ApiRoute
    pattern: re.Pattern[str]
    literal_segments: int


def compile_route(route: ApiRoute) -> CompiledRoute:
    regex, literals = "", 0
    for seg in route.path.strip("/").split("/"):
        if not seg:
            continue
        m = re.fullmatch(r"\{([^}+]+)(\+?)\}", seg)
        if m:
            regex += f"/(?P<{m.group(1)}>.+)" if m.group(2) else f"/(?P<{m.group(1)}>[^/]+)"
        else:
            regex += "/" + re.escape(seg)
            literals += 1
    return CompiledRoute(route, re.compile(regex + "/?$" if regex else "/$"), literals)


class RouteTable:
    def __init__(self, routes: list[ApiRoute]) -> None:
        self.routes = [compile_route(r) for r in routes]

    def match(self, method: str, path: str) -> tuple[ApiRoute | None, dict[str, str], list[str]]:
        """(route, path parameters, methods allowed on this path); route None when nothing fits."""
        candidates = []
        for cr in self.routes:
            m = cr.pattern.match(path)
            if m:
                candidates.append((cr, {k: unquote(v) for k, v in m.groupdict().items()}))
        # Most literal segments first: /candidates/bulk wins over /candidates/{id}.
        candidates.sort(key=lambda c: -c[0].literal_segments)
        allowed = sorted({c[0].route.method for c in candidates})
        for cr, params in candidates:
            if cr.route.method in (method, "ANY"):
                return cr.route, params, allowed
        return None, {}, allowed


@dataclass
class GatewayConfig:
    stage: str = "local"
    cors_origins: tuple[str, ...] = ()
    cors_methods: str = "GET,POST,PATCH,DELETE,OPTIONS"
    cors_headers: str = "Content-Type,Authorization"
    openapi_file: Path | None = None
    openapi_builder: Callable[[], dict[str, Any]] | None = None
    # A client that sends its headers or its body slower than this is answered and disconnected
    # (an idle keep-alive connection is closed after it too), so no connection holds a thread forever.
    read_timeout: float = 30.0
    # The stage's throttling (angebae_local.throttle) and the answer to a throttled request (the
    # template's THROTTLED gateway response, else API Gateway's own).
    throttle: Throttle | None = None
    throttled: tuple[int, list[tuple[str, str]], bytes] = (
        429,
        [("Content-Type", "application/json")],
        b'{"message":"Too Many Requests"}',
    )


def without_stage(raw_path: str, stage: str) -> str:
    """The request target with the stage's prefix taken off: API Gateway serves the API at
    `/<stage>/...` (what a 201's Location names), the local gateway at both that and the bare path."""
    prefix = f"/{stage}"
    if raw_path == prefix or raw_path.startswith((prefix + "/", prefix + "?")):
        rest = raw_path[len(prefix) :]
        return rest if rest.startswith("/") else "/" + rest
    return raw_path


def build_event(
    route: ApiRoute,
    params: dict[str, str],
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    stage: str,
) -> dict[str, Any]:
    split = urlsplit(raw_path)
    single_h: dict[str, str] = {}
    multi_h: dict[str, list[str]] = {}
    for k, v in headers:
        single_h[k] = v
        multi_h.setdefault(k, []).append(v)
    single_q: dict[str, str] = {}
    multi_q: dict[str, list[str]] = {}
    for k, v in parse_qsl(split.query, keep_blank_values=True):
        single_q[k] = v
        multi_q.setdefault(k, []).append(v)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    is_b64 = False
    text: str | None = None
    if body:
        try:
            text = body.decode("utf-8")
            if content_type and not _TEXT_TYPES.match(content_type):
                raise UnicodeDecodeError("utf-8", body, 0, 1, "binary media type")
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    return {
        "resource": route.path,
        "path": split.path,
        "httpMethod": method,
        "headers": single_h or None,
        "multiValueHeaders": multi_h or None,
        "queryStringParameters": single_q or None,
        "multiValueQueryStringParameters": multi_q or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{stage}{split.path}",
            "stage": stage,
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "domainName": single_h.get("Host", "localhost"),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": next((v for k, v in headers if k.lower() == "user-agent"), None),
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
            },
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def response_parts(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A proxy response -> (status, headers, body); ValueError when it is not a valid one."""
    if not isinstance(result, dict) or "statusCode" not in result:
        raise ValueError("function returned no statusCode")
    multi = {k: [str(x) for x in v] for k, v in (result.get("multiValueHeaders") or {}).items()}
    headers = [(k, v) for k, values in multi.items() for v in values]
    seen = {k.lower() for k in multi}
    headers += [(k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() not in seen]
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result["statusCode"]), headers, data


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def utf8_path(path: str) -> str:
    """A request target as http.server decoded it (Latin-1) read again as the UTF-8 bytes it was."""
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:  # not from a request line: already text
        return path
    return raw.decode("utf-8", errors="replace")


# API Gateway's payload quota (REST API): a larger request never reaches a function.
MAX_BODY_BYTES = 10 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]{1,20}")


class BadFraming(Exception):
    """A request whose body cannot be read as HTTP/1.1 framed it: answered, then the connection closed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def content_length(values: list[str], chunked: bool) -> int:
    """The body's length from its Content-Length header(s), checked as RFC 9110 says (digits only)."""
    if chunked:
        raise BadFraming(411, "length_required", "chunked bodies are not accepted; send Content-Length")
    if not values:
        return 0
    if len(set(values)) > 1 or not _DIGITS.fullmatch(values[0].strip()):
        raise BadFraming(400, "bad_content_length", "Content-Length must be one non-negative integer")
    length = int(values[0])
    if length > MAX_BODY_BYTES:
        raise BadFraming(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    return length


class Gateway:
    def __init__(
        self,
        routes: list[ApiRoute],
        invoke: Invoker,
        config: GatewayConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 3000,
    ) -> None:
        self.table = RouteTable(routes)
        self.invoke = invoke
        self.config = config or GatewayConfig()
        self._openapi: bytes | None = None
        self.server = _Server((host, port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        if isinstance(host, bytes):  # socketserver's type allows it; an AF_INET server's host is a str
            host = host.decode()
        return f"http://{host}:{port}"

    def start(self) -> Gateway:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="gateway")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def openapi(self) -> bytes | None:
        if self._openapi is None:
            cfg = self.config
            if cfg.openapi_file and cfg.openapi_file.is_file():
                self._openapi = cfg.openapi_file.read_bytes()
            elif cfg.openapi_builder is not None:
                self._openapi = json.dumps(cfg.openapi_builder()).encode()
        return self._openapi

    def cors_headers(self, origin: str | None) -> list[tuple[str, str]]:
        allowed = self.config.cors_origins
        if not origin or (origin not in allowed and "*" not in allowed):
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", self.config.cors_methods),
            ("Access-Control-Allow-Headers", self.config.cors_headers),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Max-Age", "600"),
            ("Vary", "Origin"),
        ]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops simultaneous connects, which clients retry after ~1 s.
    request_queue_size = 128


def _handler_class(gw: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "angebae-local"
        # Headers and body go out in separate writes: with Nagle on, the body waits ~40 ms for the
        # client's delayed ACK on every keep-alive request.
        disable_nagle_algorithm = True
        timeout = gw.config.read_timeout  # socket timeout of every read, headers and body

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug(fmt, *args)

        def parse_request(self) -> bool:
            # http.server reads the request line as Latin-1; API Gateway reads a URL's raw bytes as
            # UTF-8 (`?q=camión` sent unescaped is "camión", as `?q=cami%C3%B3n` is), bytes that are no
            # UTF-8 as U+FFFD.
            ok = super().parse_request()
            if ok:
                self.path = utf8_path(self.path)
            return ok

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json_error(self, status: int, code: str, message: str, extra=()) -> None:
            # As the template's GatewayResponses make API Gateway's own answers: the CORS headers too.
            cors = gw.cors_headers(self.headers.get("Origin")) if self.headers else []
            self._send(
                status, [("Content-Type", "application/json"), *cors, *extra], error_body(code, message)
            )

        def _read_body(self) -> bytes:
            length = content_length(
                self.headers.get_all("Content-Length") or [], "transfer-encoding" in self.headers
            )
            try:
                body = self.rfile.read(length) if length else b""
            except TimeoutError:
                body = b""
            if len(body) < length:
                raise BadFraming(
                    400, "incomplete_body", f"the body ended after {len(body)} of its {length} bytes"
                )
            return body

        def _handle(self) -> None:
            started = time.monotonic()
            self.path = without_stage(self.path, gw.config.stage)
            path = urlsplit(self.path).path
            try:
                body = self._read_body()
            except BadFraming as exc:
                # What follows in the stream cannot be framed either: answer and close.
                self.close_connection = True
                self._json_error(exc.status, exc.code, exc.message)
                log.info("%s %s -> %s (%s)", self.command, self.path, exc.status, exc.code)
                return
            status = self._dispatch(path, body)
            elapsed_ms = (time.monotonic() - started) * 1000
            log.info("%s %s -> %s (%.0f ms)", self.command, self.path, status, elapsed_ms)

        def _dispatch(self, path: str, body: bytes) -> int:
            if path in ("/openapi.json", "/docs") and self.command == "GET":
                spec = gw.openapi()
                if spec is not None:
                    if path == "/docs":
                        self._send(200, [("Content-Type", "text/html; charset=utf-8")], DOCS_HTML.encode())
                    else:
                        self._send(200, [("Content-Type", "application/json")], spec)
                    return 200
            method = "GET" if self.command == "HEAD" else self.command
            route, params, allowed = gw.table.match(method, path)
            if route is None and method == "OPTIONS" and allowed:
                self._send(204, gw.cors_headers(self.headers.get("Origin")), b"")
                return 204
            if route is None and allowed:
                self._json_error(
                    405,
                    "method_not_allowed",
                    f"{method} is not allowed on {path}",
                    [("Allow", ", ".join(allowed))],
                )
                return 405
            if route is None:
                self._json_error(404, "not_found", f"no route for {method} {path}")
                return 404
            if gw.config.throttle is not None and not gw.config.throttle.allow(route.path, route.method):
                self._send(*gw.config.throttled)
                return gw.config.throttled[0]
            event = build_event(
                route,
                params,
                method,
                self.path,
                list(self.headers.items()),
                body,
                self.client_address[0],
                gw.config.stage,
            )
            outcome = gw.invoke(route, event)
            if outcome.kind == "timeout":
                self._json_error(504, "gateway_timeout", "the function timed out")
                return 504
            if not outcome.ok:
                err = outcome.error or {}
                self._json_error(502, "function_error", f"{err.get('errorType')}: {err.get('errorMessage')}")
                return 502
            try:
                status, headers, data = response_parts(outcome.result)
            except (ValueError, TypeError) as exc:
                self._json_error(502, "bad_function_response", str(exc))
                return 502
            self._send(status, headers, data)
            return status

        def _not_allowed(self) -> None:
            # TRACE and CONNECT are methods API Gateway never routes: 405, as for any other one.
            self.close_connection = True
            _, _, allowed = gw.table.match(self.command, urlsplit(self.path).path)
            self._json_error(
                405,
                "method_not_allowed",
                f"{self.command} is not allowed",
                [("Allow", ", ".join(allowed or ["GET", "POST", "PATCH", "DELETE", "OPTIONS"]))],
            )

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle
        do_TRACE = do_CONNECT = _not_allowed

    return Handler
