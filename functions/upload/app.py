"""POST /media/uploads -> a media row and a presigned POST; GET /media; GET and DELETE /media/{id}."""

from typing import Literal

from angebae.aws import s3_client
from angebae.catalog import media
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, location, path_uuid, query_model, source_ip
from angebae.pagination import MAX_LIMIT
from angebae.responses import Deleted, Error, MediaDetail, MediaPage, UploadTicket
from angebae.settings import get_settings
from angebae.storage import Storage
from pydantic import BaseModel, ConfigDict, Field

app = create_app("upload")
settings = get_settings()
settings.require("jwt_secret")
bucket = settings.require("media_bucket")


class UploadRequest(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=100)
    size: int
    purpose: Literal["document", "product_image"] = Field(
        "document",
        description="document: a catalog, price list or invoice, OCR'd into candidates; "
        "product_image: a product's photo (PNG, JPEG, WebP, TIFF: a thumbnail is "
        "made) or video (MP4, WebM, MOV), stored, never OCR'd",
    )


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # ?status= and other unknown filters are 400
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


def storage() -> Storage:
    return Storage(s3_client(), bucket)


@app.route(
    "/media/uploads",
    methods=["POST"],
    role="editor",
    body=UploadRequest,
    responses={201: UploadTicket, 413: Error},
)
def create_upload():
    request = app.current_request
    admin = app.current_admin
    body = json_body(request, UploadRequest)
    result = media.create_upload(
        get_database(),
        storage(),
        settings,
        admin,
        filename=body.filename,
        content_type=body.content_type,
        size=body.size,
        purpose=body.purpose,
        source_ip=source_ip(request),
    )
    return json_response(
        result,
        status=201,
        headers={
            "Cache-Control": "no-store",
            "Location": location(request, f"/media/{result['media']['id']}"),
        },
    )


@app.route("/media", methods=["GET"], role="viewer", query=ListQuery, responses={200: MediaPage})
def list_media():
    query = query_model(app.current_request, ListQuery)
    return json_response(
        media.list_media(get_database(), limit=query.limit, cursor=query.cursor, storage=storage())
    )


@app.route("/media/{id}", methods=["GET"], role="viewer", responses={200: MediaDetail})
def get_media(id):
    body = media.get_media(get_database(), storage(), path_uuid(id))
    return json_response(body, headers={"Cache-Control": "no-store"})


@app.route("/media/{id}", methods=["DELETE"], role="editor", responses={200: Deleted, 409: Error})
def delete_media(id):
    actor = app.current_admin
    media.delete_media(get_database(), storage(), path_uuid(id), actor)
    return json_response({"deleted": True})
