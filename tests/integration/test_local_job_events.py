"""Job-finished events on the embedded stack (`angebae local --events-url URL`): the real template's
reaper, run in its own process as the stack runs it, POSTs the event of the job it fails to a real
HTTP server on 127.0.0.1 and logs it as one structured line."""

from __future__ import annotations

import json

import pytest
from angebae_local.cli import build_parser
from angebae_local.stack import LocalStack, StackOptions
from job_events_support import Webhook
from ocr_support import make_admin, price_list_pdf, upload
from support import ROOT


@pytest.fixture
def webhook():
    with Webhook() as hook:
        yield hook


def test_the_embedded_reaper_posts_the_event_of_the_job_it_fails(aws, db, database_url, tmp_path, webhook):
    # GIVEN a job whose worker died on its last attempt, and the stack started with --events-url
    media = upload(database_url, aws, make_admin(db, "editor"), price_list_pdf(), post=False)
    job = db.execute(
        """INSERT INTO ocr_jobs (media_id, source_key, status, attempts, lease_owner, lease_expires_at)
           VALUES (%s, 'request:dead', 'processing', 5, 'dead-worker', now() - interval '1 second')
           RETURNING *""",
        (media["id"],),
    ).fetchone()
    log = (tmp_path / "stack.log").open("w+", encoding="utf-8")
    stack = LocalStack(
        StackOptions(
            ROOT / "template.yaml",
            tmp_path / ".local",
            aws_port=0,
            database_url=database_url,
            api_port=0,
            events_url=webhook.url,
            log_stream=log,
        )
    )
    try:
        stack.start_backends()
        assert stack.function_env("ocr_reaper")["JOB_EVENTS_WEBHOOK_URL"] == webhook.url
        assert "JOB_EVENTS_WEBHOOK_URL" not in stack.function_env("login")  # publishes nothing
        # WHEN its schedule invokes the reaper
        scheduled = json.loads((ROOT / "tests" / "events" / "schedule_ocr_reaper.json").read_text())
        result = stack.invoke("ocr_reaper", scheduled)
    finally:
        stack.stop()
    # THEN the job failed lease_expired, and its event was POSTed and logged
    assert result.ok and result.result["failed"] == [str(job["id"])], result.error
    [event] = webhook.wait(1)
    assert (event["type"], event["job_id"], event["media_id"]) == (
        "ocr.job.failed",
        str(job["id"]),
        str(media["id"]),
    )
    assert (event["error"]["code"], event["candidates"]) == ("lease_expired", 0)
    log.seek(0)
    # each line of a function is "[<function>#<n>] <its JSON log line>"
    lines = [json.loads(line.split("] ", 1)[1]) for line in log.read().splitlines() if '"job event"' in line]
    log.close()
    assert [line["event"] for line in lines] == [event]


def test_angebae_local_takes_events_url_and_refuses_what_is_not_http():
    args = build_parser().parse_args(["local", "--events-url", "http://127.0.0.1:9/hook"])
    assert args.events_url == "http://127.0.0.1:9/hook"
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["local", "--events-url", "file:///etc/passwd"])
    assert caught.value.code == 2
