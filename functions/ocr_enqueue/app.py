"""POST /ocr/jobs {media_id, languages?, pages?} -> 202 with the queued job."""

import uuid
from typing import Annotated

from angebae.aws import sqs_client
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, location, source_ip
from angebae.jobs import api
from angebae.models import INT4_MAX
from angebae.responses import Error, Job
from angebae.settings import get_settings
from pydantic import BaseModel, Field

app = create_app("ocr_enqueue")
settings = get_settings()
settings.require("jwt_secret")
settings.require("ocr_queue_url")
installed = api.installed_languages()


class EnqueueRequest(BaseModel):
    media_id: uuid.UUID
    languages: str | None = Field(None, max_length=60)
    pages: list[Annotated[int, Field(ge=1, le=INT4_MAX)]] | None = Field(
        None, min_length=1, max_length=settings.max_pages
    )


@app.route(
    "/ocr/jobs",
    methods=["POST"],
    role="editor",
    body=EnqueueRequest,
    responses={202: Job, 404: Error, 409: Error},
)
def enqueue():
    request = app.current_request
    admin = app.current_admin
    body = json_body(request, EnqueueRequest)
    job = api.enqueue_job(
        get_database(),
        sqs_client(),
        settings,
        admin,
        media_id=body.media_id,
        languages=body.languages,
        pages=body.pages,
        installed=installed,
        source_ip=source_ip(request),
    )
    return json_response(job, status=202, headers={"Location": location(request, f"/ocr/jobs/{job['id']}")})
