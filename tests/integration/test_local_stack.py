"""The embedded local stack against real things: moto's server, real subprocesses, real PostgreSQL.

A tiny project (its own template and two fake functions) is written to tmp_path, so these tests do
not depend on the real functions.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote_plus

import psycopg
import pytest
import requests
from angebae_local import aws
from angebae_local.poller import SqsPoller
from angebae_local.runner import FunctionPool, InvokeResult
from angebae_local.stack import LocalStack, StackOptions, poller_concurrency
from angebae_local.template import LocalValues, Template

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

TINY_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: test}
  DbSecret: {Type: String, Default: tiny/db}
Globals:
  Function:
    Runtime: python3.11
    Timeout: 5
    Environment:
      Variables:
        DATABASE_URL: !Sub "{{resolve:secretsmanager:${DbSecret}:SecretString}}"
        SHARED: from-globals
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: !Ref Stage}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/echo/
      Handler: app.handler
      Environment:
        Variables:
          QUEUE_URL: !Ref WorkQueue
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{id}", Method: get}}
        Bulk: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /items/bulk, Method: post}}
        Update: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{id}", Method: patch}}
        Crash: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /crash, Method: post}}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/worker/
      Handler: app.handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 3
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 2}
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/tick/
      Handler: app.handler
      Events:
        Often: {Type: Schedule, Properties: {Schedule: rate(5 minutes)}}
  DeadQueue:
    Type: AWS::SQS::Queue
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DeadQueue.Arn
        maxReceiveCount: 2
"""

ECHO_APP = """\
import base64, json, os, sys

def handler(event, context):
    if event["resource"] == "/crash":
        os._exit(3)
    print("echo called", event["httpMethod"])  # must become a log line, not protocol
    body = json.dumps({"event": event, "env": dict(os.environ)})
    if event["resource"] == "/items/bulk":
        return {"statusCode": 201, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(b"\\x00\\xffbin").decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-One": "1"},
            "multiValueHeaders": {"Set-Cookie": ["a=1; HttpOnly", "b=2"]}, "body": body}
"""

WORKER_APP = """\
def handler(event, context):
    failures = []
    for record in event["Records"]:
        if record["body"] == "boom":
            raise RuntimeError("boom")
        if record["body"].startswith("bad"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


TICK_APP = """\
import json

def handler(event, context):
    with open("ticks.jsonl", "a") as out:  # the function's folder is its working directory
        out.write(json.dumps(event) + "\\n")
    return {"ok": True}
"""


def _pg_available() -> bool:
    try:
        psycopg.connect(PG_URL, connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(TINY_TEMPLATE)
    for name, code in (("echo", ECHO_APP), ("worker", WORKER_APP), ("tick", TICK_APP)):
        (tmp_path / "fns" / name).mkdir(parents=True)
        (tmp_path / "fns" / name / "app.py").write_text(code)
    return tmp_path


@pytest.fixture
def moto_endpoint():
    server = aws.MotoServer(port=0).start()
    requests.post(f"{server.endpoint}/moto-api/reset", timeout=10)  # moto's state is per process
    yield server.endpoint
    server.stop()


@pytest.fixture
def stack(project: Path):
    if not _pg_available():
        pytest.skip(f"no PostgreSQL at {PG_URL}")
    s = LocalStack(
        StackOptions(
            project / "template.yaml", project / ".local", aws_port=0, database_url=PG_URL, api_port=0
        )
    )
    s.start_backends()
    requests.post(f"{s.endpoint}/moto-api/reset", timeout=10)
    aws.provision(s.template, s.endpoint, "us-east-1")
    yield s
    s.stop()


# ---- template ------------------------------------------------------------------------------------


def test_real_template_lists_functions_events_and_scoped_environment():
    # GIVEN the project's template with local values for resources and secrets
    local = LocalValues(
        secrets={"DATABASE_URL": "postgresql://local/db", "JWT_SECRET": "k" * 40},
        resources={
            "MediaBucket": {"Ref": "media"},
            "OcrQueue": {"Ref": "http://q", "Arn": "arn:q"},
            "JobEventsTopic": {"Ref": "arn:aws:sns:us-east-1:123456789012:events"},
        },
    )
    t = Template(ROOT / "template.yaml", local)
    # WHEN functions are listed
    fns = {f.short_name: f for f in t.functions()}
    # THEN routes, the SQS mapping and environments are what the template declares
    assert ("POST", "/admin/login") in {(r.method, r.path) for r in fns["login"].api_routes}
    (src,) = fns["ocr_worker"].sqs_sources
    assert (src.queue, src.batch_size, src.report_failures) == ("OcrQueue", 1, True)
    assert fns["ocr_worker"].timeout == 900
    login_env = t.environment(fns["login"])
    assert login_env["DATABASE_URL"] == "postgresql://local/db"
    assert login_env["JWT_SECRET"] == "k" * 40
    assert "MEDIA_BUCKET" not in login_env and "OCR_QUEUE_URL" not in login_env
    health_env = t.environment(fns["health"])
    assert (health_env["MEDIA_BUCKET"], health_env["OCR_QUEUE_URL"]) == ("media", "http://q")
    assert "JWT_SECRET" not in t.environment(fns["ocr_worker"])
    assert t.environment(fns["ocr_worker"])["JOB_EVENTS_TOPIC_ARN"].endswith(":events")


def test_real_template_resources_are_provisioned_with_redrive_and_notification(moto_endpoint):
    # GIVEN moto and the project's template
    t = Template(ROOT / "template.yaml", LocalValues())
    # WHEN its resources are created
    res = aws.provision(t, moto_endpoint, "us-east-1")
    # THEN the queue has its visibility timeout and DLQ, and an upload notifies the queue
    q = res.queues["OcrQueue"]
    assert q.visibility_timeout == 5400 and q.max_receive_count == 5
    assert q.dlq_url == res.queues["OcrDeadLetterQueue"].url
    # and the job events' topic exists, its ARN what the worker's JOB_EVENTS_TOPIC_ARN resolves to
    topics = aws.client("sns", moto_endpoint, "us-east-1").list_topics()["Topics"]
    assert {"TopicArn": res.topics["JobEventsTopic"]} in topics
    assert t.resolve({"Ref": "JobEventsTopic"}) == res.topics["JobEventsTopic"]
    s3 = aws.client("s3", moto_endpoint, "us-east-1")
    sqs = aws.client("sqs", moto_endpoint, "us-east-1")
    bucket = res.buckets["MediaBucket"]
    s3.put_object(Bucket=bucket, Key="uploads/m1/a file.pdf", Body=b"%PDF-1.4")
    s3.put_object(Bucket=bucket, Key="other/ignored.txt", Body=b"x")
    bodies: list[dict] = []
    for _ in range(5):
        resp = sqs.receive_message(QueueUrl=q.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        msgs = resp.get("Messages", [])
        bodies += [json.loads(m["Body"]) for m in msgs]
        if any("Records" in b for b in bodies):
            break
    keys = [r["s3"]["object"]["key"] for b in bodies for r in b.get("Records", [])]
    # moto quote_plus-es the whole key (slashes too: uploads%2Fm1%2Fa+file.pdf); AWS keeps the slashes.
    assert [unquote_plus(k) for k in keys] == ["uploads/m1/a file.pdf"]
    assert any(b.get("Event") == "s3:TestEvent" for b in bodies)


# ---- gateway -------------------------------------------------------------------------------------


def test_gateway_sends_rest_v1_proxy_events_and_returns_cookies(stack):
    gw = stack.start_gateway()
    # WHEN a GET with path parameter, repeated query keys and headers is sent
    r = requests.get(f"{gw.url}/items/a%20b?x=1&x=2&y=", headers={"X-Test": "yes"}, timeout=30)
    # THEN the function got a REST API v1 event
    assert r.status_code == 200
    event, env = r.json()["event"], r.json()["env"]
    assert event["resource"] == "/items/{id}" and event["requestContext"]["resourcePath"] == "/items/{id}"
    assert event["httpMethod"] == "GET" and event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["X-Test"] == "yes" and event["multiValueHeaders"]["X-Test"] == ["yes"]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["requestId"] and event["requestContext"]["stage"] == "test"
    assert event["body"] is None and event["isBase64Encoded"] is False
    # AND the response kept both cookies and the single-value headers
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; HttpOnly", "b=2"]
    assert r.headers["X-One"] == "1"
    # AND the function saw exactly the template's environment plus the runtime's
    assert env["SHARED"] == "from-globals" and env["DATABASE_URL"] == PG_URL
    assert env["QUEUE_URL"] == stack.resources.queues["WorkQueue"].url
    assert env["AWS_ENDPOINT_URL"] == stack.endpoint
    assert "PYTEST_CURRENT_TEST" not in env and "HOME" not in env


def test_gateway_passes_binary_bodies_and_literal_routes_win(stack):
    gw = stack.start_gateway()
    r = requests.post(
        f"{gw.url}/items/bulk", data=b"\x89PNG\x00\xff", headers={"Content-Type": "image/png"}, timeout=30
    )
    assert r.status_code == 201 and r.content == b"\x00\xffbin"
    r = requests.patch(f"{gw.url}/items/9", json={"a": 1}, timeout=30)
    event = r.json()["event"]
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False


def test_gateway_unknown_path_is_404_and_wrong_method_is_405_json(stack):
    gw = stack.start_gateway()
    r = requests.get(f"{gw.url}/nope", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests.delete(f"{gw.url}/items/1", timeout=10)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in r.headers["Allow"]


def test_crashed_function_gives_502_and_is_restarted(stack):
    gw = stack.start_gateway()
    r = requests.post(f"{gw.url}/crash", timeout=30)
    assert r.status_code == 502 and r.json()["error"]["code"] == "function_error"
    assert requests.get(f"{gw.url}/items/1", timeout=30).status_code == 200


def test_cli_invoke_prints_the_handler_result(project):
    if not _pg_available():
        pytest.skip(f"no PostgreSQL at {PG_URL}")
    event = {"resource": "/items/{id}", "httpMethod": "GET", "pathParameters": {"id": "7"}}
    (project / "event.json").write_text(json.dumps(event))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "angebae_local.cli",
            "invoke",
            "echo",
            "-e",
            str(project / "event.json"),
            "--template",
            str(project / "template.yaml"),
            "--database-url",
            PG_URL,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["event"]["pathParameters"] == {"id": "7"}
    assert "[echo] echo called GET" in proc.stderr


def test_cli_local_reports_a_port_in_use_in_one_line(project):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "angebae_local.cli",
                "local",
                "--no-worker",
                "--port",
                str(port),
                "--template",
                str(project / "template.yaml"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"angebae local: port {port} on 127.0.0.1 is already in use"


# ---- poller --------------------------------------------------------------------------------------


@pytest.fixture
def work(project: Path, moto_endpoint):
    """(template, provisioned, sqs client, worker pool) for the tiny project."""
    t = Template(project / "template.yaml", LocalValues(secrets={"DATABASE_URL": "postgresql://unused"}))
    res = aws.provision(t, moto_endpoint, "us-east-1")
    fn = t.function("worker")
    from angebae_local.runner import function_environment

    pool = FunctionPool(fn, function_environment(fn, t.environment(fn), {"AWS_ENDPOINT_URL": moto_endpoint}))
    yield t, res, aws.client("sqs", moto_endpoint, "us-east-1"), pool
    pool.close()


def _poller(res, sqs, pool) -> SqsPoller:
    return SqsPoller(
        sqs, res.queues["WorkQueue"], pool.invoke, batch_size=3, report_failures=True, wait_seconds=1
    )


def _bodies_after_visibility(sqs, url: str) -> list[str]:
    time.sleep(1.3)  # VisibilityTimeout is 1 s
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return sorted(m["Body"] for m in msgs)


def _send(sqs, url: str, *bodies: str) -> None:
    entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    sqs.send_message_batch(QueueUrl=url, Entries=entries)


def test_partial_batch_failure_deletes_only_the_good_message(work):
    # GIVEN a batch [bad, good, bad]
    _, res, sqs, pool = work
    url = res.queues["WorkQueue"].url
    _send(sqs, url, "bad-1", "good", "bad-2")
    # WHEN it is polled once and the function reports the two bad ones
    assert _poller(res, sqs, pool).poll_once() == 3
    # THEN exactly the good one is gone and the two bad come back
    assert _bodies_after_visibility(sqs, url) == ["bad-1", "bad-2"]


def test_exception_leaves_the_whole_batch(work):
    _, res, sqs, pool = work
    url = res.queues["WorkQueue"].url
    _send(sqs, url, "good", "boom")
    assert _poller(res, sqs, pool).poll_once() == 2
    assert _bodies_after_visibility(sqs, url) == ["boom", "good"]


def test_message_goes_to_the_dead_letter_queue_after_max_receive_count(work):
    # GIVEN maxReceiveCount 2 and a message that always fails
    _, res, sqs, pool = work
    url, dlq = res.queues["WorkQueue"].url, res.queues["DeadQueue"].url
    _send(sqs, url, "bad-forever")
    poller = _poller(res, sqs, pool)
    # WHEN it is received twice, failing each time
    for _ in range(2):
        assert poller.poll_once() == 1
        time.sleep(1.3)
    # THEN the next poll finds nothing and the message sits in the DLQ
    assert poller.poll_once() == 0
    msgs = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in msgs] == ["bad-forever"]


def test_a_poller_outlives_an_unexpected_error_in_an_invocation(work):
    # GIVEN a function runner that fails once in a way that is not an SQS error (e.g. the process cannot
    # be started: too many open files), then works
    _, res, sqs, pool = work
    url = res.queues["WorkQueue"].url
    calls = []

    def invoke(event):
        calls.append(event)
        if len(calls) == 1:
            raise OSError(24, "Too many open files")
        return pool.invoke(event)

    _send(sqs, url, "good")
    poller = SqsPoller(
        sqs, res.queues["WorkQueue"], invoke, batch_size=3, report_failures=True, wait_seconds=1
    ).start()
    try:
        # WHEN the visibility timeout (1 s) brings the message back
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        # THEN the poller is still polling: the message is handed over again and done
        assert len(calls) >= 2 and poller.alive() == 1
    finally:
        poller.stop()
    assert _bodies_after_visibility(sqs, url) == []


def test_as_many_batches_are_in_flight_at_once_as_the_function_may_run(work):
    # GIVEN three messages, batches of one, and a poller that may run two batches at once
    _, res, sqs, _ = work
    url = res.queues["WorkQueue"].url
    _send(sqs, url, "slow-1", "slow-2", "slow-3")
    both_in = threading.Barrier(2, timeout=10)
    lock, in_flight, most = threading.Lock(), [0], [0]

    def invoke(event):  # stands in for a slow document: returns only once two batches are in
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            both_in.wait()
        except threading.BrokenBarrierError:  # the third batch has no partner: let it through
            pass
        with lock:
            in_flight[0] -= 1
        return InvokeResult(True, result={"batchItemFailures": []})

    poller = SqsPoller(
        sqs,
        res.queues["WorkQueue"],
        invoke,
        batch_size=1,
        report_failures=True,
        wait_seconds=1,
        concurrency=2,
    ).start()
    try:
        # WHEN it runs: THEN both loops deliver at once (a single loop would wait on the barrier)
        deadline = time.monotonic() + 10
        while most[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert most[0] == 2 and poller.alive() == 2
    finally:
        both_in.abort()
        poller.stop()


def test_batches_in_flight_are_bounded_by_maximum_and_reserved_concurrency(project):
    tiny = Template(project / "template.yaml", LocalValues(secrets={"DATABASE_URL": "x"}))
    fn = tiny.function("worker")
    [src] = fn.sqs_sources
    assert (src.max_concurrency, fn.reserved_concurrency) == (2, None)
    assert [poller_concurrency(fn, src, size) for size in (1, 2, 8)] == [1, 2, 2]
    real = Template(ROOT / "template.yaml", LocalValues(secrets={"DATABASE_URL": "x"}))
    worker = real.function("ocr_worker")
    [ocr] = worker.sqs_sources
    assert (ocr.max_concurrency, worker.reserved_concurrency) == (4, 4)
    assert poller_concurrency(worker, ocr, 2) == 2


def test_a_scheduled_function_is_invoked_by_a_timer_with_eventbridges_event(project):
    # GIVEN a function with a `Type: Schedule` event, its rate shortened to 0.2 s
    s = LocalStack(StackOptions(project / "template.yaml", project / ".local", schedule_seconds=0.2))
    s.template.local.secrets["DATABASE_URL"] = "postgresql://unused"
    [tick] = s.template.function("tick").schedules
    assert (tick.seconds, tick.input) == (300, None)
    ticks = project / "fns" / "tick" / "ticks.jsonl"
    # WHEN the stack's schedules run, with no request and no message
    s.start_schedules()
    try:
        deadline = time.monotonic() + 20
        while (not ticks.exists() or len(ticks.read_text().splitlines()) < 2) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        s.stop()
    # THEN it was invoked again and again, each time with a scheduled event
    events = [json.loads(line) for line in ticks.read_text().splitlines()]
    assert len(events) >= 2
    assert {(e["source"], e["detail-type"]) for e in events} == {("aws.events", "Scheduled Event")}


def test_the_ocr_reaper_runs_every_5_minutes_within_the_jobs_lease():
    real = Template(ROOT / "template.yaml", LocalValues(secrets={"DATABASE_URL": "x"}))
    [schedule] = real.function("ocr_reaper").schedules
    lease = int(real.function("ocr_worker").environment["JOB_LEASE_SECONDS"])
    assert schedule.seconds == 300 < lease
