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


@pytest.fixture(scope="module")
def translated() -> dict:
    """The template as CloudFormation receives it after `sam package` and the SAM transform."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:  # the loader's interface; SAM only needs it for named managed policies
        def load(self) -> dict:
            return {}

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        doc = yaml_parse(TEMPLATE.read_text())
        for res in doc["Resources"].values():  # what `sam package` does: local folders -> S3 URIs
            for key in ("CodeUri", "ContentUri"):
                if isinstance(res.get("Properties", {}).get(key), str):
                    res["Properties"][key] = f"s3://bucket/{res['Properties'][key].strip('/')}"
        return transform(copy.deepcopy(doc), {}, NoManagedPolicies())


def test_sam_translator_transforms_the_template(translated):
    resources = translated["Resources"]
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


FUNCTIONS_WITH_API = [fn for fn in Template(TEMPLATE).functions() if fn.api_routes]


@pytest.mark.parametrize("fn", FUNCTIONS_WITH_API, ids=lambda f: f.short_name)
def test_api_events_equal_the_chalice_routes(fn, monkeypatch):
    app_file = fn.code_uri / "app.py"
    if not app_file.is_file():
        pytest.skip(f"{app_file.relative_to(ROOT)} is not written yet")
    # Settings are validated at start-up: give the app enough to import.
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/unused")
    monkeypatch.setenv("JWT_SECRET", "x" * 48)
    monkeypatch.setenv("TOTP_ENCRYPTION_KEY", "t" * 48)
    monkeypatch.setenv("MEDIA_BUCKET", "bucket")
    monkeypatch.setenv("OCR_QUEUE_URL", "http://localhost/queue")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template_routes = {(r.method, r.path) for r in fn.api_routes}
    assert _chalice_routes(app_file) == template_routes


def test_every_function_has_its_handler_file_or_is_reported_missing(template):
    missing = [
        str(fn.code_uri.relative_to(ROOT))
        for fn in template.functions()
        if not (fn.code_uri / "app.py").is_file()
    ]
    if missing:
        pytest.skip("not written yet: " + ", ".join(missing))


def test_the_media_bucket_refuses_requests_without_tls(template):
    policies = [r for r in template.resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert len(policies) == 1 and policies[0]["Properties"]["Bucket"] == {"Ref": "MediaBucket"}
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    deny = [
        s
        for s in statements
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert deny and deny[0]["Action"] == "s3:*" and deny[0]["Principal"] == "*"


# --- operations (issue 10): secrets, Globals, logs, tracing, alarms, gateway answers ----------------

HTTP_FUNCTIONS = {
    "LoginFunction",
    "LogoutFunction",
    "UploadFunction",
    "OcrEnqueueFunction",
    "OcrStatusFunction",
    "ProductsFunction",
    "CategoriesFunction",
    "CandidatesFunction",
    "AdminsFunction",
}


def _functions(translated) -> dict[str, dict]:
    return {
        k: r["Properties"] for k, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Function"
    }


def _stage(translated) -> dict:
    (stage,) = [
        r["Properties"] for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"
    ]
    return stage


def _role_policies(translated, fn_props) -> list:
    role = translated["Resources"][fn_props["Role"]["Fn::GetAtt"][0]]["Properties"]
    return role.get("ManagedPolicyArns", [])


def test_no_secret_value_is_in_any_function_configuration(translated):
    # GIVEN the deployed functions WHEN one reads their configuration THEN it holds secret ids, never values
    for name, fn in _functions(translated).items():
        env = fn["Environment"]["Variables"]
        assert "DATABASE_URL" not in env and "JWT_SECRET" not in env, name
        assert "{{resolve:" not in str(env), name
        assert env["DATABASE_URL_SECRET_ID"] == {"Ref": "DatabaseUrlSecretName"}, name
        policies = _role_policies(translated, fn)
        assert {"Ref": "ReadDatabaseSecretPolicy"} in policies, name
        assert ({"Ref": "ReadJwtSecretPolicy"} in policies) == (name in HTTP_FUNCTIONS), name


def test_the_secret_policies_grant_only_reading_the_named_secrets(template):
    for policy, param in (
        ("ReadDatabaseSecretPolicy", "DatabaseUrlSecretName"),
        ("ReadJwtSecretPolicy", "JwtSecretName"),
    ):
        (statement,) = template.resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"]["Fn::Sub"].endswith(f":secret:${{{param}}}-??????")


def test_the_jwt_cookie_cors_block_is_only_in_globals(template):
    shared = ("JWT_SECRET_ID", "JWT_ISSUER", "JWT_AUDIENCE", "COOKIE_SECURE", "CORS_ORIGINS")
    glob = template.doc["Globals"]["Function"]["Environment"]["Variables"]
    assert all(k in glob for k in shared)
    for name, res in template.of_type("AWS::Serverless::Function").items():
        own = (res["Properties"].get("Environment") or {}).get("Variables") or {}
        # only an opt-out: a function that checks no session says it holds no JWT key
        assert {k: v for k, v in own.items() if k in shared} == (
            {} if name in HTTP_FUNCTIONS else {"JWT_SECRET_ID": ""}
        ), name


def test_every_function_logs_json_to_its_own_group_kept_the_retention(translated):
    resources = translated["Resources"]
    groups = set()
    for name, fn in _functions(translated).items():
        config = fn["LoggingConfig"]
        assert config["LogFormat"] == "JSON", name
        group = config["LogGroup"]["Ref"]
        assert resources[group]["Type"] == "AWS::Logs::LogGroup"
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        groups.add(group)
    assert len(groups) == len(_functions(translated))  # one each
    assert translated["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_tracing_is_not_switched_on_without_instrumentation(translated):
    for name, fn in _functions(translated).items():
        assert "TracingConfig" not in fn, name
    stage = _stage(translated)
    assert not stage.get("TracingEnabled")


def test_vpc_subnets_and_security_groups_are_parameters(translated):
    for name, fn in _functions(translated).items():
        condition, in_vpc, outside = fn["VpcConfig"]["Fn::If"]
        assert condition == "InVpc" and outside == {"Ref": "AWS::NoValue"}, name
        assert in_vpc == {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}}
    assert translated["Parameters"]["SubnetIds"]["Default"] == ""


def test_every_alarm_notifies_the_alarm_topic_and_an_email_can_subscribe(template):
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    assert {
        "OcrDeadLetterAlarm",
        "OcrBacklogAgeAlarm",
        "ApiServerErrorsAlarm",
        "ApiFunctionErrorsAlarm",
        "ApiFunctionThrottlesAlarm",
        "OcrFunctionErrorsAlarm",
        "OcrFunctionThrottlesAlarm",
    } <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    subscription = template.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert template.parameter("AlarmEmail") == ""


def test_the_lambda_alarms_cover_every_function_within_the_metric_math_limit(template):
    watched = {"Errors": set(), "Throttles": set()}
    for alarm in template.of_type("AWS::CloudWatch::Alarm").values():
        stats = [
            m["MetricStat"]["Metric"] for m in alarm["Properties"].get("Metrics", []) if "MetricStat" in m
        ]
        assert len(stats) <= 10  # CloudWatch's hard limit for a metric-math alarm
        for metric in stats:
            if metric["Namespace"] == "AWS/Lambda":
                watched[metric["MetricName"]].add(metric["Dimensions"][0]["Value"]["Ref"])
    functions = set(template.of_type("AWS::Serverless::Function"))
    assert watched == {"Errors": functions, "Throttles": functions}


def test_the_oldest_ocr_message_and_the_api_5xx_rate_are_alarmed(template):
    age = template.resources["OcrBacklogAgeAlarm"]["Properties"]
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert age["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["OcrQueue", "QueueName"]}
    api = template.resources["ApiServerErrorsAlarm"]["Properties"]
    assert api["MetricName"] == "5XXError"
    assert {d["Name"]: d["Value"] for d in api["Dimensions"]}["ApiName"] == template.resources["AdminApi"][
        "Properties"
    ]["Name"]


def _render(template_text: str) -> dict:
    """A gateway response / access log template with API Gateway's variables filled in."""
    import json
    import re

    text = template_text.replace("$context.error.messageString", json.dumps("Missing Authentication Token"))
    return json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", text))


def test_api_gateways_own_errors_carry_cors_and_the_error_shape(translated):
    body = translated["Resources"]["AdminApi"]["Properties"]["Body"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert {
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "MISSING_AUTHENTICATION_TOKEN",
        "UNAUTHORIZED",
        "REQUEST_TOO_LARGE",
        "INTEGRATION_TIMEOUT",
    } <= set(responses)
    for kind, response in responses.items():
        headers = response["responseParameters"]
        assert "gatewayresponse.header.Access-Control-Allow-Origin" in headers, kind
        assert headers["gatewayresponse.header.Access-Control-Allow-Credentials"] == "'true'", kind
        shape = _render(response["responseTemplates"]["application/json"])
        assert set(shape) == {"error"} and set(shape["error"]) == {"code", "message"}, kind
        assert shape["error"]["code"].islower(), kind
    # GIVEN an unknown path WHEN API Gateway answers THEN 404 not_found (a REST API says 403 otherwise)
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    assert (
        _render(responses["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"])["error"][
            "code"
        ]
        == "not_found"
    )
    assert "gatewayresponse.header.WWW-Authenticate" in responses["UNAUTHORIZED"]["responseParameters"]


def test_the_stage_writes_json_access_logs(translated):
    stage = _stage(translated)
    setting = stage["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = _render(setting["Format"])
    assert {"requestId", "ip", "method", "resourcePath", "status", "latencyMs", "errorType"} <= set(line)
    account = translated["Resources"]["ApiGatewayAccount"]
    assert account["Condition"] == "SetApiGatewayAccount"


# Job-finished events (angebae.jobs.events): one encrypted topic, published by the functions that end jobs

EVENT_PUBLISHERS = {"OcrWorkerFunction", "OcrReaperFunction", "OcrEnqueueFunction"}


def test_the_job_events_topic_is_encrypted_and_an_output(template):
    topic = template.resources["JobEventsTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    assert topic["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"  # like the alarm topic
    assert template.doc["Outputs"]["JobEventsTopicArn"]["Value"] == {"Ref": "JobEventsTopic"}


def test_only_the_functions_that_end_jobs_may_publish_job_events(translated):
    resources = translated["Resources"]
    for name, fn in _functions(translated).items():
        env = fn["Environment"]["Variables"]
        role = resources[fn["Role"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        publishes = [s for s in statements if "sns:Publish" in str(s["Action"])]
        if name in EVENT_PUBLISHERS:
            assert env["JOB_EVENTS_TOPIC_ARN"] == {"Ref": "JobEventsTopic"}, name
            (statement,) = publishes
            assert statement["Effect"] == "Allow"
            assert "JobEventsTopic" in str(statement["Resource"]), name
        else:
            assert "JOB_EVENTS_TOPIC_ARN" not in env and not publishes, name
