"""OCR candidates: the review queue GET /candidates, GET/PATCH /candidates/{id},
POST /candidates/{id}/accept|reject|reopen, POST /candidates/bulk."""

from angebae import concurrency
from angebae.aws import s3_client
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, path_uuid, query_model
from angebae.models import (
    CandidateAccept,
    CandidateBulk,
    CandidateQuery,
    CandidateReject,
    CandidateReopen,
    CandidateUpdate,
)
from angebae.responses import (
    BulkResults,
    Candidate,
    CandidateDecision,
    CandidatePage,
    CandidateReopened,
    Error,
)
from angebae.review import candidates
from angebae.settings import get_settings
from angebae.storage import Storage

app = create_app("candidates")
settings = get_settings()
settings.require("jwt_secret")
bucket = settings.media_bucket  # where page previews are; without it candidates carry no links


def storage() -> Storage | None:
    """Signs the links to page previews (no call to S3 is made)."""
    return Storage(s3_client(), bucket) if bucket else None


@app.route(
    "/candidates", methods=["GET"], role="viewer", query=CandidateQuery, responses={200: CandidatePage}
)
def review_queue():
    query = query_model(app.current_request, CandidateQuery)
    return json_response(candidates.review_queue(get_database(), query, storage()))


@app.route("/candidates/{id}", methods=["GET"], role="viewer", responses={200: Candidate})
def get_candidate(id):
    return with_etag(candidates.get_candidate(get_database(), path_uuid(id), storage()))


def with_etag(candidate: dict):
    return json_response(candidate, headers={"ETag": concurrency.etag(candidate["version"])})


@app.route(
    "/candidates/{id}",
    methods=["PATCH"],
    role="editor",
    body=CandidateUpdate,
    responses={200: Candidate, 409: Error, 412: Error, 428: Error},
)
def update_candidate(id):
    request = app.current_request
    body = json_body(request, CandidateUpdate)
    candidate = candidates.update_candidate(
        get_database(), path_uuid(id), body, app.current_admin, if_match=request.headers.get("if-match")
    )
    return with_etag(candidate)


@app.route(
    "/candidates/{id}/accept",
    methods=["POST"],
    role="editor",
    body=CandidateAccept,
    responses={200: CandidateDecision, 409: Error, 412: Error, 428: Error},
)
def accept(id):
    """Choice `update` names the product version read: `product_version` or an If-Match header."""
    actor = app.current_admin
    request = app.current_request
    body = json_body(request, CandidateAccept)
    return json_response(
        candidates.accept(
            get_database(),
            path_uuid(id),
            actor,
            choice=body.choice,
            product_version=body.product_version,
            if_match=request.headers.get("if-match"),
        )
    )


@app.route(
    "/candidates/{id}/reject",
    methods=["POST"],
    role="editor",
    body=CandidateReject,
    responses={200: CandidateDecision, 409: Error},
)
def reject(id):
    actor = app.current_admin
    body = json_body(app.current_request, CandidateReject)
    return json_response(candidates.reject(get_database(), path_uuid(id), actor, reason=body.reason))


@app.route(
    "/candidates/{id}/reopen",
    methods=["POST"],
    role="editor",
    body=CandidateReopen,
    responses={200: CandidateReopened, 409: Error},
)
def reopen(id):
    actor = app.current_admin
    body = json_body(app.current_request, CandidateReopen)
    return json_response(
        candidates.reopen(get_database(), path_uuid(id), actor, archive_product=body.archive_product)
    )


@app.route(
    "/candidates/bulk", methods=["POST"], role="editor", body=CandidateBulk, responses={200: BulkResults}
)
def bulk():
    actor = app.current_admin
    body = json_body(app.current_request, CandidateBulk)
    results = candidates.bulk(get_database(), body.action, body.ids, actor, choice=body.choice)
    return json_response({"results": results})
