"""The local gateway serves the API at the stage's URL too (`/v1/...`, as API Gateway does and as a
201's Location names it), as well as at the bare path the README's examples use."""

from __future__ import annotations

import json
import urllib.request

import pytest
from angebae_local.gateway import Gateway, GatewayConfig, without_stage
from angebae_local.runner import InvokeResult
from angebae_local.template import ApiRoute


def echo(route, event) -> InvokeResult:
    seen = {
        "path": event["path"],
        "context_path": event["requestContext"]["path"],
        "query": event["queryStringParameters"],
    }
    return InvokeResult(
        ok=True,
        result={"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(seen)},
    )


@pytest.fixture
def base_url():
    gw = Gateway(
        [ApiRoute("EchoFunction", "Get", "/items/{id}", "GET")], echo, GatewayConfig(stage="v1"), port=0
    ).start()
    host, port = gw.server.server_address[:2]
    yield f"http://{host}:{port}"
    gw.stop()


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_a_route_answers_at_its_bare_path_and_under_the_stage(base_url, prefix):
    with urllib.request.urlopen(f"{base_url}{prefix}/items/7?x=1", timeout=10) as answer:
        seen = json.loads(answer.read())
    # THEN the function sees the path as API Gateway gives it: bare in `path`, staged in the context
    assert seen == {"path": "/items/7", "context_path": "/v1/items/7", "query": {"x": "1"}}


def test_only_the_stage_itself_is_taken_off():
    assert without_stage("/v1/items?x=1", "v1") == "/items?x=1"
    assert without_stage("/v1?x=1", "v1") == "/?x=1"
    assert without_stage("/v10/items", "v1") == "/v10/items"  # another path, not the stage
    assert without_stage("/items/v1", "v1") == "/items/v1"
