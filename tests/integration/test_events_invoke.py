"""Every event in tests/events/ through `angebae invoke` (a subprocess, as a user runs it) on a fresh,
migrated database: API events answer JSON with no 5xx (401 where they carry a placeholder session),
SQS batches are acknowledged. Each function of the template has at least one event, each event has a
function (found from its route, or from its SQS source), and each has the shape `sam local invoke -e`
passes to the handler (REST API v1 proxy, SQS batch)."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from angebae_local.template import Template
from e2e_support import ROOT, angebae_command, fresh_database

EVENTS = sorted((ROOT / "tests" / "events").glob("*.json"))
TEMPLATE = Template(ROOT / "template.yaml")
API_KEYS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}
SCHEDULED_KEYS = {
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
}
SQS_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


def function_for(event: dict) -> str:
    if "Records" in event:
        return next(fn.short_name for fn in TEMPLATE.functions() if fn.sqs_sources)
    if event.get("detail-type") == "Scheduled Event":
        return next(fn.short_name for fn in TEMPLATE.functions() if fn.schedules)
    return next(
        fn.short_name
        for fn in TEMPLATE.functions()
        for r in fn.api_routes
        if (r.method, r.path) == (event["httpMethod"], event["resource"])
    )


def invoke(path: Path, database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            *angebae_command(),
            "invoke",
            function_for(json.loads(path.read_text())),
            "-e",
            str(path),
            "--database-url",
            database_url,
            "--template",
            str(ROOT / "template.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def outcomes() -> dict[str, subprocess.CompletedProcess]:
    with fresh_database() as database_url:
        migrate = subprocess.run(
            [*angebae_command(), "migrate", "--database-url", database_url],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert migrate.returncode == 0, migrate.stderr
        with ThreadPoolExecutor(4) as pool:
            return dict(
                zip(
                    (p.name for p in EVENTS), pool.map(lambda p: invoke(p, database_url), EVENTS), strict=True
                )
            )


def test_every_function_has_an_event():
    covered = {function_for(json.loads(p.read_text())) for p in EVENTS}
    assert covered == {fn.short_name for fn in TEMPLATE.functions()}


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_event_has_the_shape_sam_local_invoke_passes(path):
    event = json.loads(path.read_text())
    if "Records" in event:
        for record in event["Records"]:
            assert SQS_KEYS <= record.keys() and record["eventSource"] == "aws:sqs"
            assert isinstance(record["body"], str)
    elif event.get("source") == "aws.events":
        assert SCHEDULED_KEYS <= event.keys() and event["detail-type"] == "Scheduled Event"
    else:
        assert API_KEYS <= event.keys()
        assert event["requestContext"]["resourcePath"] == event["resource"]
        assert event["requestContext"]["httpMethod"] == event["httpMethod"]
        assert event["body"] is None or isinstance(event["body"], str)


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_event_runs_through_angebae_invoke(path, outcomes):
    proc = outcomes[path.name]
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    if "Records" in json.loads(path.read_text()):
        assert result == {"batchItemFailures": []}, result  # unknown objects and jobs are acknowledged
        return
    if json.loads(path.read_text()).get("source") == "aws.events":
        assert result == {"failed": [], "requeued": [], "expired_uploads": 0}, result  # nothing is stale
        return
    assert 200 <= result["statusCode"] < 500, result
    body = json.loads(result["body"])
    if "REPLACE_WITH" in path.read_text():  # placeholder session or password
        assert result["statusCode"] == 401 and body["error"]["code"], result


# --- issue 10: with a real session, each signed-in event gets its 2xx ---------------------------------

SIGNED_IN = [
    "me.json",
    "products_list.json",
    "ocr_status.json",
    "ocr_enqueue.json",
    "upload.json",
    "logout.json",
]  # logout last: it ends the session
SEED_MEDIA = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"  # ocr_enqueue.json's media_id
SEED_JOB = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"  # ocr_status.json's path id


def test_the_events_name_the_session_cookie_the_functions_read():
    from angebae.auth.sessions import cookie_name
    from angebae.settings import Settings

    # the events come through the plain-http local gateway, where COOKIE_SECURE is false
    local_name = cookie_name(Settings(database_url="x", cookie_secure=False))
    for path in EVENTS:
        event = json.loads(path.read_text())
        for cookie in (event.get("multiValueHeaders") or {}).get("Cookie", []):
            assert cookie.split("=", 1)[0] == local_name, path.name


@pytest.fixture(scope="module")
def signed_in_outcomes(tmp_path_factory) -> dict[str, dict]:
    import psycopg

    folder = tmp_path_factory.mktemp("events")
    with fresh_database() as database_url:
        cli = [*angebae_command()]
        run = {"capture_output": True, "text": True, "timeout": 120, "cwd": ROOT}
        assert subprocess.run([*cli, "migrate", "--database-url", database_url], **run).returncode == 0
        login = json.loads((ROOT / "tests/events/login.json").read_text())
        credentials = json.loads(login["body"])
        seeded = subprocess.run(
            [
                *cli,
                "seed-admin",
                "--database-url",
                database_url,
                "--email",
                credentials["email"],
                "--password",
                credentials["password"],
            ],
            **run,
        )
        assert seeded.returncode == 0, seeded.stderr
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                """INSERT INTO media (id, bucket, object_key, filename, declared_type, status,
                                               page_count)
                            VALUES (%s, 'b', 'uploads/x/catalogo.pdf', 'catalogo.pdf', 'application/pdf',
                                    'uploaded', 2)""",
                (SEED_MEDIA,),
            )
            conn.execute(
                "INSERT INTO ocr_jobs (id, media_id, source_key) VALUES (%s, %s, 'seed')",
                (SEED_JOB, SEED_MEDIA),
            )
        logged_in = invoke(ROOT / "tests/events/login.json", database_url)
        assert logged_in.returncode == 0, logged_in.stderr[-2000:]
        result = json.loads(logged_in.stdout)
        assert result["statusCode"] == 200, result
        token = json.loads(result["body"])["token"]
        outcomes = {}
        for name in SIGNED_IN:  # one after the other: logout ends the session the others use
            event = (ROOT / "tests/events" / name).read_text()
            event = event.replace("REPLACE_WITH_A_TOKEN_FROM_LOGIN", token)
            (folder / name).write_text(event)
            proc = invoke(folder / name, database_url)
            assert proc.returncode == 0, proc.stderr[-2000:]
            outcomes[name] = json.loads(proc.stdout)
        return outcomes


@pytest.mark.parametrize("name", SIGNED_IN)
def test_each_signed_in_event_with_a_real_session_cookie_gets_its_2xx(name, signed_in_outcomes):
    result = signed_in_outcomes[name]
    expected = {"ocr_enqueue.json": 202, "upload.json": 201}.get(name, 200)
    assert result["statusCode"] == expected, (name, result.get("body", "")[:500])
