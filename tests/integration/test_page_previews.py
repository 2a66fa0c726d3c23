"""Page previews and GET /ocr/jobs/{id}/pages/{n}: the real worker renders each page it read once, to
a JPEG preview and thumbnail in the (moto) bucket; the API gives presigned links, the page's source,
size, confidence, text and words."""

from __future__ import annotations

import io

import pytest
import requests
from ocr_support import bearer, drain_upload, make_admin, png_bytes, upload
from PIL import Image, ImageStat
from support import call, load_function, rest_event


@pytest.fixture
def editor(db):
    return make_admin(db, "editor")


def two_halves_pdf() -> bytes:
    """Page 1 black on its top half, page 2 on its bottom half; each with a line of text."""
    import pymupdf

    doc = pymupdf.open()
    for n in (1, 2):
        page = doc.new_page(width=595, height=842)
        top = 0 if n == 1 else 421
        page.draw_rect(pymupdf.Rect(0, top, 595, top + 421), color=(0, 0, 0), fill=(0, 0, 0))
        page.insert_text((50, 400 if n == 2 else 800), f"Tornillo M{n} 1,25 EUR", fontsize=12)
    return doc.tobytes()


def get(fn, admin, resource, **ids):
    return call(
        fn,
        rest_event(
            "GET",
            resource,
            path=resource.format(**ids),
            headers=bearer(admin),
            path_params={k: str(v) for k, v in ids.items()},
        ),
    )


def image_at(url: str) -> Image.Image:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content[:3] == b"\xff\xd8\xff"  # a JPEG
    return Image.open(io.BytesIO(response.content)).convert("L")


def darkness(img: Image.Image, box) -> float:
    return 255 - ImageStat.Stat(img.crop(box)).mean[0]


def test_each_page_gets_a_preview_and_thumbnail_of_that_page(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, two_halves_pdf())
    drain_upload(aws, database_url, media)
    [job] = db.execute("SELECT id, status FROM ocr_jobs WHERE media_id = %s", (media["id"],)).fetchall()
    assert job["status"] == "succeeded"
    status = load_function("ocr_status")
    body = get(status, editor, "/ocr/jobs/{id}", id=job["id"])["json"]
    assert [p["page"] for p in body["pages_read"]] == [1, 2]
    for summary in body["pages_read"]:
        assert (summary["width"], summary["height"]) == (595, 842) and summary["source"] == "text_layer"
        preview, thumbnail = image_at(summary["preview_url"]), image_at(summary["thumbnail_url"])
        assert max(preview.size) == 1200 and max(thumbnail.size) == 240
        top = (0, 0, preview.width, preview.height // 2 - 10)
        bottom = (0, preview.height // 2 + 10, preview.width, preview.height)
        dark, light = (top, bottom) if summary["page"] == 1 else (bottom, top)
        assert darkness(preview, dark) > 240 and darkness(preview, light) < 15, summary["page"]
    assert "points" in body["coordinates"]
    for candidate in body["candidates"]["items"]:
        assert candidate["preview_url"] == next(
            p["preview_url"] for p in body["pages_read"] if p["page"] == candidate["page_number"]
        )
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=aws["bucket"])["Contents"]}
    assert {f"previews/{job['id']}/1.jpg", f"thumbnails/{job['id']}/2.jpg"} <= keys
    # rendered once: a second delivery of the same job leaves the stored keys alone
    before = db.execute("SELECT page_number, preview_key FROM ocr_pages ORDER BY 1").fetchall()
    drain_upload(aws, database_url, media)
    assert db.execute("SELECT page_number, preview_key FROM ocr_pages ORDER BY 1").fetchall() == before


def test_a_page_answers_its_source_size_confidence_text_and_words(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, two_halves_pdf())
    drain_upload(aws, database_url, media)
    [job] = db.execute("SELECT id FROM ocr_jobs WHERE media_id = %s", (media["id"],)).fetchall()
    status = load_function("ocr_status")
    response = get(status, editor, "/ocr/jobs/{id}/pages/{n}", id=job["id"], n=2)
    assert response["statusCode"] == 200, response["json"]
    page = response["json"]
    assert (page["page"], page["source"], page["words_from"]) == (2, "text_layer", "text_layer")
    assert (page["width"], page["height"]) == (595, 842) and page["mean_confidence"] == 1.0
    assert "Tornillo M2" in page["text"]
    word = next(w for w in page["words"] if w["text"] == "Tornillo")
    assert 49 <= word["x0"] < word["x1"] < 595 and word["y0"] < 400 < word["y1"] + 3  # points, y down
    assert page["preview_url"] and page["thumbnail_url"]
    for n in ("3", "0", "x", "99999999999"):
        missing = get(status, editor, "/ocr/jobs/{id}/pages/{n}", id=job["id"], n=n)
        assert (missing["statusCode"], missing["json"]["error"]["code"]) == (404, "page_not_found"), n
    assert (
        get(status, editor, "/ocr/jobs/{id}/pages/{n}", id="8a5c7a4e-0000-4000-8000-000000000000", n=1)[
            "statusCode"
        ]
        == 404
    )


def test_an_image_upload_gets_a_thumbnail_too(aws, db, database_url, editor):
    media = upload(
        database_url,
        aws,
        editor,
        png_bytes("Tornillo 1,25 EUR", size=(800, 300)),
        content_type="image/png",
        filename="foto.png",
    )
    drain_upload(aws, database_url, media)
    [page] = db.execute("SELECT preview_key, thumbnail_key FROM ocr_pages").fetchall()
    body = aws["s3"].get_object(Bucket=aws["bucket"], Key=page["thumbnail_key"])["Body"].read()
    assert Image.open(io.BytesIO(body)).size == (240, 90)


def test_a_document_the_renderer_cannot_read_gives_no_preview_and_raises_nothing():
    from angebae.jobs import previews

    assert previews.render(b"%PDF-1.7 not really", "application/pdf", [1, 2]) == {}
    assert previews.render(b"", "image/png", [1]) == {}


def test_the_queue_and_a_candidate_carry_their_pages_preview_links(aws, db, database_url, editor):
    media = upload(database_url, aws, editor, two_halves_pdf())
    drain_upload(aws, database_url, media)
    module = load_function("candidates")
    queue = get(module, editor, "/candidates")["json"]["items"]
    assert queue and all(c["preview_url"] and c["thumbnail_url"] for c in queue)
    one = get(module, editor, "/candidates/{id}", id=queue[0]["id"])["json"]
    assert image_at(one["thumbnail_url"]).size[0] <= 240
