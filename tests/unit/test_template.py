"""template.yaml: lints clean, transforms with SAM, and its API events equal the Chalice routes."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import pytest
from angebae_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(TEMPLATE)


def test_cfn_lint_reports_nothing():
    from cfnlint.api import lint_file

    assert [str(m) for m in lint_file(TEMPLATE)] == []


def test_sam_translator_transforms_the_template(monkeypatch):
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:  # the loader's interface; SAM only needs it for named managed policies
        def load(self) -> dict:
            return {}

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    doc = yaml_parse(TEMPLATE.read_text())
    for res in doc["Resources"].values():  # what `sam package` does: local folders -> S3 URIs
        for key in ("CodeUri", "ContentUri"):
            if isinstance(res.get("Properties", {}).get(key), str):
                res["Properties"][key] = f"s3://bucket/{res['Properties'][key].strip('/')}"
    out = transform(copy.deepcopy(doc), {}, NoManagedPolicies())
    resources = out["Resources"]
    mapping = resources["OcrWorkerFunctionOcrQueueMessages"]["Properties"]
    assert mapping["BatchSize"] == 1 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert resources["OcrWorkerFunction"]["Properties"]["Timeout"] == 900
    assert resources["AdminApi"]["Type"] == "AWS::ApiGateway::RestApi"


def test_queue_visibility_is_six_times_the_worker_timeout_with_a_dlq(template):
    props = template.resources["OcrQueue"]["Properties"]
    worker = template.resources["OcrWorkerFunction"]["Properties"]
    assert props["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert props["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["OcrDeadLetterQueue", "Arn"]}
    assert template.parameter("MaxReceiveCount") == "5"


def test_secrets_come_from_secrets_manager_references(template):
    glob = template.doc["Globals"]["Function"]["Environment"]["Variables"]
    assert "{{resolve:secretsmanager:" in glob["DATABASE_URL"]["Fn::Sub"]
    for fn in template.functions():
        jwt = fn.environment.get("JWT_SECRET")
        if jwt is not None:
            assert "{{resolve:secretsmanager:" in jwt["Fn::Sub"], fn.logical_id


def _chalice_routes(app_file: Path) -> set[tuple[str, str]]:
    name = f"_routes_{app_file.parent.name}"
    spec = importlib.util.spec_from_file_location(name, app_file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(app_file.parent))  # a function may import its own sibling modules
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(app_file.parent))
    return {(method.upper(), path) for path, methods in module.app.routes.items() for method in methods}


FUNCTIONS_WITH_API = [
    fn for fn in Template(TEMPLATE).functions() if fn.api_routes
]


@pytest.mark.parametrize("fn", FUNCTIONS_WITH_API, ids=lambda f: f.short_name)
def test_api_events_equal_the_chalice_routes(fn, monkeypatch):
    app_file = fn.code_uri / "app.py"
    if not app_file.is_file():
        pytest.skip(f"{app_file.relative_to(ROOT)} is not written yet")
    # Settings are validated at start-up: give the app enough to import.
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/unused")
    monkeypatch.setenv("JWT_SECRET", "x" * 48)
    monkeypatch.setenv("MEDIA_BUCKET", "bucket")
    monkeypatch.setenv("OCR_QUEUE_URL", "http://localhost/queue")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template_routes = {(r.method, r.path) for r in fn.api_routes}
    assert _chalice_routes(app_file) == template_routes


def test_every_function_has_its_handler_file_or_is_reported_missing(template):
    missing = [str(fn.code_uri.relative_to(ROOT)) for fn in template.functions()
               if not (fn.code_uri / "app.py").is_file()]
    if missing:
        pytest.skip("not written yet: " + ", ".join(missing))


def test_the_media_bucket_refuses_requests_without_tls(template):
    policies = [r for r in template.resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert len(policies) == 1 and policies[0]["Properties"]["Bucket"] == {"Ref": "MediaBucket"}
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert deny and deny[0]["Action"] == "s3:*" and deny[0]["Principal"] == "*"
