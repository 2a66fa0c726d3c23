"""The embedded stack's API Gateway throttling (issue 14): token buckets per method, the template's
MethodSettings and its THROTTLED gateway response, read as API Gateway reads them."""

from __future__ import annotations

import json

from angebae_local.template import Template
from angebae_local.throttle import Limit, Throttle, TokenBucket
from support import ROOT


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_its_burst_through_then_its_rate():
    clock = Clock()
    bucket = TokenBucket(Limit(burst=3, rate=2), clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5  # one token back at 2 a second
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now = 100.0  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_each_method_has_its_own_bucket_and_the_most_specific_limit():
    clock = Clock()
    throttle = Throttle({("/*", "*"): Limit(5, 1), ("/admin/login", "POST"): Limit(1, 1)}, clock)
    assert [throttle.allow("/admin/login", "POST") for _ in range(2)] == [True, False]
    assert all(throttle.allow("/admin/me", "GET") for _ in range(5))
    assert not throttle.allow("/admin/me", "GET")
    assert all(throttle.allow("/products", "GET") for _ in range(5))  # a bucket of its own


def test_a_method_without_any_setting_is_not_throttled():
    throttle = Throttle({("/admin/login", "POST"): Limit(1, 1)}, Clock())
    assert all(throttle.allow("/health", "GET") for _ in range(50))


def test_the_template_throttles_the_stage_and_login_more_strictly():
    template = Template(ROOT / "template.yaml")
    assert template.api_throttling() == {("/*", "*"): (100, 50.0), ("/admin/login", "POST"): (10, 5.0)}


def test_the_limits_are_parameters():
    template = Template(ROOT / "template.yaml")
    template.local.parameters.update(ThrottlingRateLimit="7", LoginThrottlingBurstLimit="2")
    assert template.api_throttling() == {("/*", "*"): (100, 7.0), ("/admin/login", "POST"): (2, 5.0)}


def test_a_429_from_the_gateway_has_the_error_shape_and_cors_headers():
    status, headers, body = Template(ROOT / "template.yaml").gateway_response("THROTTLED")
    assert status == 429
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert json.loads(body)["error"]["code"] == "too_many_requests"
