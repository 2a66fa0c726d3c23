"""Media purpose: a product's photos and videos are checked and stored but never OCR'd (the real worker
on moto S3); images get a thumbnail; re-running OCR on them is 409; the upload function's allowlist."""

from __future__ import annotations

import io

import pytest
import requests
from ocr_support import bearer, drain_upload, make_admin, png_bytes, upload
from PIL import Image
from support import call, load_function, rest_event

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 4000
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 4000
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\x00" * 4000


@pytest.fixture
def editor(db):
    return make_admin(db, "editor")


def media_row(db, media):
    return db.execute("SELECT * FROM media WHERE id = %s", (media["id"],)).fetchone()


def jobs_of(db, media) -> list[dict]:
    return db.execute("SELECT * FROM ocr_jobs WHERE media_id = %s", (media["id"],)).fetchall()


def test_a_product_photo_is_stored_with_a_thumbnail_and_never_ocrd(aws, db, database_url, editor):
    photo = png_bytes("Camión rojo 12,50 EUR", size=(900, 600))
    media = upload(
        database_url,
        aws,
        editor,
        photo,
        content_type="image/png",
        filename="camion.png",
        purpose="product_image",
    )
    assert drain_upload(aws, database_url, media) == {"batchItemFailures": []}
    row = media_row(db, media)
    assert (row["status"], row["purpose"], row["sniffed_type"]) == ("uploaded", "product_image", "image/png")
    assert jobs_of(db, media) == []  # not a document: no OCR job, no candidates
    event = rest_event(
        "GET",
        "/media/{id}",
        path=f"/media/{media['id']}",
        headers=bearer(editor),
        path_params={"id": str(media["id"])},
    )
    shown = call(load_function("upload"), event)
    body = shown["json"]
    assert body["purpose"] == "product_image"
    thumbnail = Image.open(io.BytesIO(requests.get(body["thumbnail_url"], timeout=10).content))
    assert thumbnail.size == (240, 160)
    assert requests.get(body["download_url"], timeout=10).content == photo


@pytest.mark.parametrize(
    ("data", "content_type", "sniffed"),
    [
        (MP4, "video/mp4", "video/mp4"),
        (MOV, "video/quicktime", "video/quicktime"),
        (WEBM, "video/webm", "video/webm"),
    ],
)
def test_product_videos_are_accepted_stored_and_not_read(
    aws, db, database_url, editor, data, content_type, sniffed
):
    media = upload(
        database_url,
        aws,
        editor,
        data,
        content_type=content_type,
        filename="demo.bin",
        purpose="product_image",
    )
    drain_upload(aws, database_url, media)
    row = media_row(db, media)
    assert (row["status"], row["sniffed_type"], row["thumbnail_key"]) == ("uploaded", sniffed, None)
    assert jobs_of(db, media) == []


def test_a_video_that_is_not_one_is_rejected(aws, db, database_url, editor):
    media = upload(
        database_url,
        aws,
        editor,
        png_bytes(),
        content_type="video/mp4",
        filename="x.mp4",
        purpose="product_image",
    )
    drain_upload(aws, database_url, media)
    row = media_row(db, media)
    assert (row["status"], row["error_code"]) == ("rejected", "type_mismatch")


def test_a_product_image_cannot_be_sent_to_ocr(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, png_bytes(), content_type="image/png", purpose="product_image")
    drain_upload(aws, database_url, media)
    response = call(
        load_function("ocr_enqueue"),
        rest_event("POST", "/ocr/jobs", headers=bearer(editor), body={"media_id": str(media["id"])}),
    )
    assert response["statusCode"] == 409
    assert response["json"]["error"]["details"]["purpose"] == "product_image"


def ticket(editor, **body):
    body = {"filename": "f", "size": 100, **body}
    event = rest_event("POST", "/media/uploads", body=body, headers=bearer(editor))
    return call(load_function("upload"), event)


def test_the_upload_allowlist_follows_the_purpose(aws, editor):
    assert ticket(editor, content_type="video/mp4", purpose="product_image")["statusCode"] == 201
    assert ticket(editor, content_type="video/quicktime", purpose="product_image")["statusCode"] == 201
    refused = ticket(editor, content_type="video/mp4")  # a document by default
    assert refused["statusCode"] == 415 and "product_image" in refused["json"]["error"]["message"]
    assert ticket(editor, content_type="application/pdf", purpose="product_image")["statusCode"] == 415
    assert ticket(editor, content_type="image/png", purpose="avatar")["statusCode"] == 400
    made = ticket(editor, content_type="image/jpeg", purpose="product_image")["json"]
    assert made["media"]["purpose"] == "product_image"


def test_products_list_their_images_with_working_links(aws, db, database_url, editor):
    photo = png_bytes("Camión", size=(480, 480))
    media = upload(database_url, aws, editor, photo, content_type="image/png", purpose="product_image")
    drain_upload(aws, database_url, media)
    fn = load_function("products")
    created = call(
        fn,
        rest_event(
            "POST",
            "/products",
            headers=bearer(editor),
            body={"name": "Camión rojo", "images": [str(media["id"])]},
        ),
    )
    assert created["statusCode"] == 201, created["json"]
    [link] = created["json"]["image_links"]
    assert (link["media_id"], link["content_type"]) == (str(media["id"]), "image/png")
    assert requests.get(link["url"], timeout=10).content == photo
    listed = call(fn, rest_event("GET", "/products", headers=bearer(editor)))["json"]["items"]
    [item] = listed
    thumbnail = requests.get(item["image_links"][0]["thumbnail_url"], timeout=10)
    assert Image.open(io.BytesIO(thumbnail.content)).size == (240, 240)
