"""GET /health -> database (with migration version), storage and queue: 200 when all are up, else 503;
also the OCR languages (the default and those installed here)."""

from angebae.aws import s3_client, sqs_client
from angebae.db import get_database
from angebae.health import check_all
from angebae.http import create_app, json_response
from angebae.responses import Health
from angebae.settings import get_settings

app = create_app("health")
settings = get_settings()


@app.route("/health", methods=["GET"], public=True, responses={200: Health, 503: Health})
def health():
    report = check_all(get_database(), settings, s3=s3_client(), sqs=sqs_client())
    return json_response(
        report, status=200 if report["status"] == "up" else 503, headers={"Cache-Control": "no-store"}
    )
