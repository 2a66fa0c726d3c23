"""The OCR worker: SQS batches of S3 notifications and job messages -> {"batchItemFailures": [...]}.

Its SQS event sets `FunctionResponseTypes: [ReportBatchItemFailures]`; the return value is that
partial-batch response. A plain function, not a Chalice app: there is no HTTP route to dispatch.
"""

from angebae import logs
from angebae.aws import s3_client, sqs_client
from angebae.db import get_database
from angebae.jobs.worker import process_batch
from angebae.settings import get_settings

settings = get_settings()
logs.configure(settings.log_level)


def handler(event, context):
    sqs = sqs_client() if settings.ocr_queue_url else None
    with logs.invocation("ocr_worker", context):  # every line: function, request_id, cold_start
        return process_batch(
            event.get("Records") or [], db=get_database(), s3=s3_client(), sqs=sqs, settings=settings
        )


app = handler  # the template's `Handler: app.app` reaches the same function
