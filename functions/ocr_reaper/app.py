"""The OCR queue's housekeeping on a schedule (EventBridge, every 5 minutes): jobs left `processing`
past their lease are sent again or failed, jobs whose message was lost are sent again, upload tickets
that expired without a file are rejected. The worker also runs it before each batch; this runs it
when no batch comes (a worker killed on the last message, a quiet queue)."""

from angebae import logs
from angebae.aws import sqs_client
from angebae.db import get_database
from angebae.jobs.worker import housekeeping
from angebae.settings import get_settings

settings = get_settings()
settings.require("ocr_queue_url")
logs.configure(settings.log_level)


def handler(event, context):
    with logs.invocation("ocr_reaper", context):  # every line: function, request_id, cold_start
        return housekeeping(get_database(), settings, sqs=sqs_client())


app = handler  # `Handler: app.app` would reach the same function
