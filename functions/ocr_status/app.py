"""GET /ocr/jobs (by status and media), GET /ocr/jobs/{id} (with its pages and candidates), its
candidates alone (also exported as CSV or XLSX: GET /ocr/jobs/{id}/candidates/export), and one page it
read: GET /ocr/jobs/{id}/pages/{n}."""

import uuid
from typing import Literal

from angebae.aws import s3_client
from angebae.catalog import export
from angebae.db import get_database
from angebae.http import create_app, json_response, path_uuid, query_model
from angebae.jobs import api
from angebae.models import INT4_MAX, ExportQuery
from angebae.pagination import MAX_LIMIT
from angebae.responses import CandidatePage, DocumentPage, ExportLink, JobDetail, JobPage
from angebae.settings import get_settings
from angebae.storage import Storage
from pydantic import BaseModel, Field

app = create_app("ocr_status")
settings = get_settings()
settings.require("jwt_secret")
bucket = settings.require("media_bucket")


def storage() -> Storage:
    return Storage(s3_client(), bucket)


class PageQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class JobsQuery(PageQuery):
    status: Literal["queued", "processing", "succeeded", "failed"] | None = None
    media_id: uuid.UUID | None = None


@app.route("/ocr/jobs", methods=["GET"], role="viewer", query=JobsQuery, responses={200: JobPage})
def list_jobs():
    q = query_model(app.current_request, JobsQuery)
    return json_response(
        api.list_jobs(get_database(), status=q.status, media_id=q.media_id, limit=q.limit, cursor=q.cursor)
    )


@app.route("/ocr/jobs/{id}", methods=["GET"], role="viewer", query=PageQuery, responses={200: JobDetail})
def get_job(id):
    q = query_model(app.current_request, PageQuery)
    job = api.get_job(get_database(), path_uuid(id), limit=q.limit, cursor=q.cursor, storage=storage())
    return json_response(job, headers={"Cache-Control": "no-store"})


def page_number(value: str) -> int:
    """A page number of the path: 1 to 2**31 - 1 in ASCII digits; anything else names no page (404)."""
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= INT4_MAX:
        raise api.PageNotFound()  # as a page number the job did not read: one code for both
    return int(value)


@app.route("/ocr/jobs/{id}/pages/{n}", methods=["GET"], role="viewer", responses={200: DocumentPage})
def job_page(id, n):
    body = api.get_page(get_database(), storage(), path_uuid(id), page_number(n))
    return json_response(body, headers={"Cache-Control": "no-store"})


@app.route(
    "/ocr/jobs/{id}/candidates",
    methods=["GET"],
    role="viewer",
    query=PageQuery,
    responses={200: CandidatePage},
)
def job_candidates(id):
    q = query_model(app.current_request, PageQuery)
    return json_response(api.list_candidates(get_database(), path_uuid(id), limit=q.limit, cursor=q.cursor))


@app.route(
    "/ocr/jobs/{id}/candidates/export",
    methods=["GET"],
    query=ExportQuery,
    role="viewer",
    responses={303: ExportLink},
)
def export_job_candidates(id):
    """The job's candidates (every status, in page and position order) as CSV or XLSX: 303 See Other
    to the file (a presigned link, 15 min)."""
    q = query_model(app.current_request, ExportQuery)
    link = export.export_candidates(get_database(), storage(), path_uuid(id), q.format)
    return json_response(link, 303, headers={"Location": link["url"], "Cache-Control": "no-store"})
