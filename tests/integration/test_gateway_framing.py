"""The local gateway (API Gateway emulation) against malformed HTTP framing: TRACE, bad Content-Length,
chunked bodies, bodies over API Gateway's 10 MB. Each gets an answer (405, 400, 411, 413) and the
connection is closed, never a hang or a dropped connection. A real Gateway on a loopback port, with
an in-process function that echoes the body it received."""

from __future__ import annotations

import json
import socket
import time

import pytest
from angebae_local.gateway import Gateway, GatewayConfig
from angebae_local.runner import InvokeResult
from angebae_local.template import ApiRoute

READ_TIMEOUT = 0.5


def echo(route, event) -> InvokeResult:
    return InvokeResult(
        ok=True,
        result={
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"body": event["body"]}),
        },
    )


@pytest.fixture
def gateway():
    routes = [
        ApiRoute("EchoFunction", "Post", "/items", "POST"),
        ApiRoute("EchoFunction", "Get", "/items", "GET"),
    ]
    gw = Gateway(routes, echo, GatewayConfig(read_timeout=READ_TIMEOUT), port=0).start()
    yield gw
    gw.stop()


def exchange(gw: Gateway, raw: bytes, wait: float = 5.0) -> tuple[int, dict[str, str], bytes, float]:
    """Send raw bytes, read until the server closes (or `wait` passes): (status, headers, body, seconds)."""
    host, port = gw.server.server_address[:2]
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=wait) as sock:
        sock.sendall(raw)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pytest.fail(f"the gateway kept the connection open past {wait} s; got {data!r}")
    elapsed = time.monotonic() - started
    assert data, "the gateway closed the connection without an answer"
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body, elapsed


def request(method: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} /items HTTP/1.1", "Host: localhost", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_trace_is_405_not_501(gateway):
    status, headers, body, _ = exchange(gateway, request("TRACE", {"Connection": "close"}))
    assert status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"
    assert "GET" in headers["allow"] and "TRACE" not in headers["allow"]


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", " ", "5, 5"])
def test_a_content_length_that_is_no_length_is_400(gateway, length):
    status, headers, body, elapsed = exchange(
        gateway, request("POST", {"Content-Type": "application/json", "Content-Length": length}, b"{}")
    )
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_content_length"
    assert headers["connection"] == "close" and elapsed < 3


def test_a_body_shorter_than_its_content_length_is_400_after_the_read_timeout(gateway):
    # GIVEN a client that announces 100 bytes, sends 2 and keeps the connection open
    status, headers, body, elapsed = exchange(
        gateway, request("POST", {"Content-Type": "application/json", "Content-Length": "100"}, b"{}")
    )
    # THEN the gateway answers 400 once its read timeout passes, and closes the connection
    assert status == 400 and json.loads(body)["error"]["code"] == "incomplete_body"
    assert headers["connection"] == "close" and READ_TIMEOUT <= elapsed < READ_TIMEOUT + 3


def test_a_client_that_sends_nothing_is_disconnected_after_the_read_timeout(gateway):
    host, port = gateway.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, not by this client's own timeout
        assert time.monotonic() - started < READ_TIMEOUT + 3


def test_a_chunked_body_is_411_and_a_body_over_10_mb_is_413(gateway):
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, _, body, _ = exchange(gateway, request("POST", chunked, b"2\r\n{}\r\n0\r\n\r\n"))
    assert status == 411 and json.loads(body)["error"]["code"] == "length_required"
    status, _, body, _ = exchange(
        gateway,
        request(
            "POST", {"Content-Type": "application/json", "Content-Length": str(10 * 1024 * 1024 + 1)}, b"{}"
        ),
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_good_request_after_a_bad_one_still_works_and_keep_alive_holds(gateway):
    exchange(gateway, request("POST", {"Content-Length": "-1"}))
    raw = request("POST", {"Content-Type": "application/json", "Content-Length": "7"}, b'{"a":1}')
    host, port = gateway.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        for _ in range(2):  # two requests on one connection
            sock.sendall(raw)
            data = b""
            while b'"body": "{\\"a\\":1}"}' not in data:
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200")
