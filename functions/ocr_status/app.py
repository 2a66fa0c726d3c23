"""GET /ocr/jobs (by status and media), GET /ocr/jobs/{id} (with candidates), its candidates alone."""

import uuid
from typing import Literal

from angebae import jobs
from angebae.db import get_database
from angebae.http import create_app, json_response, path_uuid, query_model
from angebae.pagination import MAX_LIMIT
from angebae.settings import get_settings
from pydantic import BaseModel, Field

app = create_app("ocr_status")
settings = get_settings()
settings.require("jwt_secret")


class PageQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class JobsQuery(PageQuery):
    status: Literal["queued", "processing", "succeeded", "failed"] | None = None
    media_id: uuid.UUID | None = None


@app.route("/ocr/jobs", methods=["GET"], query=JobsQuery, responses={200: "JobPage"})
def list_jobs():
    app.signed_in()
    q = query_model(app.current_request, JobsQuery)
    return json_response(jobs.list_jobs(get_database(), status=q.status, media_id=q.media_id,
                                        limit=q.limit, cursor=q.cursor))


@app.route("/ocr/jobs/{id}", methods=["GET"], query=PageQuery, responses={200: "JobDetail"})
def get_job(id):
    app.signed_in()
    q = query_model(app.current_request, PageQuery)
    return json_response(jobs.get_job(get_database(), path_uuid(id), limit=q.limit, cursor=q.cursor),
                         headers={"Cache-Control": "no-store"})


@app.route("/ocr/jobs/{id}/candidates", methods=["GET"], query=PageQuery,
           responses={200: "CandidatePage"})
def job_candidates(id):
    app.signed_in()
    q = query_model(app.current_request, PageQuery)
    return json_response(jobs.list_candidates(get_database(), path_uuid(id), limit=q.limit,
                                              cursor=q.cursor))
