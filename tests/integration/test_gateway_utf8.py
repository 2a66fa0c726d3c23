"""The local gateway reads the raw bytes of a URL as UTF-8, as API Gateway does (http.server reads the
request line as Latin-1): `?q=camión` sent unescaped reaches the function as "camión", the same as
`?q=cami%C3%B3n`. A real Gateway on a loopback port, an in-process function that echoes its event."""

from __future__ import annotations

import json
import socket

import pytest
from angebae_local.gateway import Gateway, GatewayConfig
from angebae_local.runner import InvokeResult
from angebae_local.template import ApiRoute


def echo(route, event) -> InvokeResult:
    seen = {
        k: event[k]
        for k in ("path", "queryStringParameters", "multiValueQueryStringParameters", "pathParameters")
    }
    return InvokeResult(
        ok=True,
        result={"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(seen)},
    )


@pytest.fixture
def gateway():
    routes = [
        ApiRoute("EchoFunction", "List", "/products", "GET"),
        ApiRoute("EchoFunction", "Get", "/tags/{tag}", "GET"),
    ]
    gw = Gateway(routes, echo, GatewayConfig(read_timeout=2), port=0).start()
    yield gw
    gw.stop()


def raw_get(gw: Gateway, target: bytes) -> tuple[int, dict]:
    """GET with these exact bytes as the request target (no client escaping): (status, JSON body)."""
    host, port = gw.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("target", ["/products?q=camión".encode(), b"/products?q=cami%C3%B3n"])
def test_a_query_in_raw_utf8_reaches_the_function_as_the_percent_encoded_one_does(gateway, target):
    status, event = raw_get(gateway, target)
    assert status == 200
    assert event["queryStringParameters"] == {"q": "camión"}
    assert event["multiValueQueryStringParameters"] == {"q": ["camión"]}


def test_raw_utf8_in_a_path_parameter_and_in_several_values(gateway):
    status, event = raw_get(gateway, "/tags/muñeca?q=pingüino&q=ñu".encode())
    assert status == 200
    assert event["pathParameters"] == {"tag": "muñeca"} and event["path"] == "/tags/muñeca"
    assert event["multiValueQueryStringParameters"] == {"q": ["pingüino", "ñu"]}


def test_bytes_that_are_no_utf8_become_replacement_characters_not_an_error(gateway):
    status, event = raw_get(gateway, b"/products?q=cami\xf3n")  # Latin-1's ó alone
    assert status == 200 and event["queryStringParameters"] == {"q": "cami\ufffdn"}
