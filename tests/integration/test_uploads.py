"""../shared/RELIABILITY.md 12: uploads by presigned POST; GET /media and /media/{id} (moto S3 over HTTP)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime

import pytest
import requests
from ocr_support import bearer, make_admin, price_list_pdf
from support import call, load_function, rest_event

MAX = 100 * 1024 * 1024
KEY_RE = re.compile(r"^uploads/[0-9a-f-]{36}/[a-z0-9._-]+$")


@pytest.fixture
def fn(aws):
    return load_function("upload")


@pytest.fixture
def editor(db):
    return make_admin(db, "editor")


def create(fn, admin, **body):
    body = {"filename": "lista.pdf", "content_type": "application/pdf", "size": 1234, **body}
    return call(fn, rest_event("POST", "/media/uploads", body=body, headers=bearer(admin)))


def get_media(fn, admin, media_id):
    return call(
        fn,
        rest_event(
            "GET",
            "/media/{id}",
            path=f"/media/{media_id}",
            headers=bearer(admin),
            path_params={"id": str(media_id)},
        ),
    )


def list_media(fn, admin, **query):
    return call(fn, rest_event("GET", "/media", headers=bearer(admin), query=query or None))


def policy_of(upload: dict) -> dict:
    return json.loads(base64.b64decode(upload["fields"]["policy"]))


def test_an_upload_ticket_is_a_pending_media_row_and_a_presigned_post(fn, db, editor):
    response = create(fn, editor, filename="Catálogo 2024.pdf", size=5000)
    assert response["statusCode"] == 201
    media, upload = response["json"]["media"], response["json"]["upload"]
    assert media["status"] == "pending"
    assert response["headers"]["Location"] == f"/Prod/media/{media['id']}"  # where the media is read
    assert (media["filename"], media["declared_size"]) == ("Catálogo 2024.pdf", 5000)
    row = db.execute("SELECT * FROM media WHERE id = %s", (media["id"],)).fetchone()
    assert row["object_key"] == f"uploads/{media['id']}/catalogo-2024.pdf"
    assert upload["fields"]["key"] == row["object_key"]
    assert upload["fields"]["Content-Type"] == "application/pdf"


def test_the_post_policy_carries_size_type_key_ticket_and_a_short_expiry(fn, db, editor):
    created = create(fn, editor, size=5000)["json"]
    upload = created["upload"]
    policy = policy_of(upload)
    conditions = policy["conditions"]
    assert ["content-length-range", 5000, 5000] in conditions  # exactly the declared size
    ticket = upload["fields"]["x-amz-meta-ticket"]
    assert {"x-amz-meta-ticket": ticket} in conditions and len(ticket) >= 43
    row = db.execute("SELECT ticket_sha256 FROM media WHERE id = %s", (created["media"]["id"],)).fetchone()
    assert row["ticket_sha256"] == hashlib.sha256(ticket.encode()).hexdigest()  # the secret is not kept
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"key": upload["fields"]["key"]} in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 600
    assert abs((datetime.fromisoformat(upload["expires_at"]) - expires).total_seconds()) < 5


def test_a_client_posts_the_file_straight_to_storage_with_the_ticket(fn, aws, editor):
    upload = create(fn, editor, size=len(price_list_pdf()))["json"]["upload"]
    data = price_list_pdf()
    response = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("lista.pdf", data, "application/pdf")},
        timeout=10,
    )
    assert response.status_code in (200, 201, 204)
    stored = aws["s3"].get_object(Bucket=aws["bucket"], Key=upload["fields"]["key"])
    assert stored["Body"].read() == data


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd",
        "..\\..\\windows\\system32\\a.pdf",
        "/abs/path/x.pdf",
        "a/../../b.pdf",
        "....pdf",
        "..",
        "ñandú <script>.pdf",
        "%2e%2e%2fsecret.pdf",
        "   ",
        "😀😀.pdf",
        "a" * 255,
    ],
)
def test_the_client_filename_never_becomes_a_path(fn, db, editor, filename):
    response = create(fn, editor, filename=filename)
    assert response["statusCode"] == 201
    key = response["json"]["upload"]["fields"]["key"]
    assert KEY_RE.match(key) and ".." not in key and len(key) < 140
    assert key.startswith(f"uploads/{response['json']['media']['id']}/")
    row = db.execute("SELECT filename FROM media WHERE object_key = %s", (key,)).fetchone()
    assert row["filename"] == filename  # kept as metadata, exactly as sent


@pytest.mark.parametrize("filename", ["file\x00name.pdf", "line\nbreak.pdf", "bell\x07.pdf", ""])
def test_a_filename_with_control_characters_or_none_is_400(fn, db, editor, filename):
    assert create(fn, editor, filename=filename)["statusCode"] == 400
    assert db.execute("SELECT count(*) AS n FROM media").fetchone()["n"] == 0


@pytest.mark.parametrize(
    "content_type", ["image/png", "image/jpeg", "image/tiff", "image/webp", "application/pdf", "IMAGE/JPG"]
)
def test_the_allowlisted_types_are_accepted(fn, editor, content_type):
    assert create(fn, editor, content_type=content_type)["statusCode"] == 201


@pytest.mark.parametrize(
    "content_type", ["text/html", "image/gif", "image/svg+xml", "application/zip", "application/octet-stream"]
)
def test_other_types_are_refused_with_the_allowlist(fn, db, editor, content_type):
    response = create(fn, editor, content_type=content_type)
    assert response["statusCode"] == 415
    assert response["json"]["error"]["code"] == "unsupported_file_type"
    assert "application/pdf" in response["json"]["error"]["details"]["allowed"]
    assert db.execute("SELECT count(*) AS n FROM media").fetchone()["n"] == 0


def test_a_file_over_the_limit_is_413_naming_the_limit(fn, editor):
    response = create(fn, editor, size=MAX + 1)
    assert response["statusCode"] == 413
    assert str(MAX) in response["json"]["error"]["message"]
    assert create(fn, editor, size=MAX)["statusCode"] == 201


@pytest.mark.parametrize("size", [0, -5, "big", None])
def test_an_empty_or_invalid_size_is_400(fn, editor, size):
    assert create(fn, editor, size=size)["statusCode"] == 400


def test_uploading_needs_an_editor(fn, db):
    viewer = make_admin(db, "viewer")
    assert create(fn, viewer)["statusCode"] == 403
    anonymous = call(
        fn,
        rest_event(
            "POST", "/media/uploads", body={"filename": "a.pdf", "content_type": "application/pdf", "size": 1}
        ),
    )
    assert anonymous["statusCode"] == 401


def test_a_pending_media_has_no_download_link_and_an_uploaded_one_has_a_working_one(fn, aws, db, editor):
    data = price_list_pdf()
    created = create(fn, editor, size=len(data))["json"]
    media_id, key = created["media"]["id"], created["upload"]["fields"]["key"]
    pending = get_media(fn, editor, media_id)["json"]
    assert pending["status"] == "pending" and pending["download_url"] is None and pending["jobs"] == []
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=data)
    db.execute(
        """UPDATE media SET status = 'uploaded', size_bytes = %s, sniffed_type = 'application/pdf'
                  WHERE id = %s""",
        (len(data), media_id),
    )
    job = db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:1') RETURNING id", (media_id,)
    ).fetchone()
    body = get_media(fn, make_admin(db, "viewer"), media_id)["json"]
    assert (body["size_bytes"], body["sniffed_type"]) == (len(data), "application/pdf")
    assert [j["id"] for j in body["jobs"]] == [str(job["id"])]
    download = requests.get(body["download_url"], timeout=10)
    assert download.status_code == 200 and download.content == data


def test_an_unknown_or_malformed_media_id_is_404(fn, editor):
    assert get_media(fn, editor, "8a5c7a4e-0000-4000-8000-000000000000")["statusCode"] == 404
    assert get_media(fn, editor, "../etc")["statusCode"] == 404


def test_media_are_listed_newest_first_page_by_page(fn, editor):
    ids = [create(fn, editor, filename=f"f{i}.pdf")["json"]["media"]["id"] for i in range(5)]
    first = list_media(fn, editor, limit="2")["json"]
    second = list_media(fn, editor, limit="2", cursor=first["next_cursor"])["json"]
    third = list_media(fn, editor, limit="2", cursor=second["next_cursor"])["json"]
    seen = [m["id"] for page in (first, second, third) for m in page["items"]]
    assert seen == ids[::-1] and third["next_cursor"] is None


@pytest.mark.parametrize(
    "query", [{"cursor": "garbage"}, {"cursor": "WyJ4IiwieSJd"}, {"limit": "0"}, {"limit": "100000"}]
)
def test_a_bad_cursor_or_limit_is_400(fn, editor, query):
    assert list_media(fn, editor, **query)["statusCode"] == 400


def test_an_unknown_filter_is_400(fn, editor):
    response = list_media(fn, editor, status="uploaded")
    assert response["statusCode"] == 400, response["json"]


def uploaded_media(fn, aws, db, editor, data: bytes) -> dict:
    created = create(fn, editor, size=len(data))["json"]
    aws["s3"].put_object(Bucket=aws["bucket"], Key=created["upload"]["fields"]["key"], Body=data)
    db.execute("UPDATE media SET status = 'uploaded' WHERE id = %s", (created["media"]["id"],))
    return created["media"]


def test_listed_media_carry_a_working_download_link_once_checked(fn, aws, db, editor):
    data = price_list_pdf()
    checked = uploaded_media(fn, aws, db, editor, data)
    pending = create(fn, editor)["json"]["media"]
    items = {m["id"]: m for m in list_media(fn, editor)["json"]["items"]}
    assert items[pending["id"]]["download_url"] is None
    assert requests.get(items[checked["id"]]["download_url"], timeout=10).content == data


def delete_media(fn, admin, media_id):
    return call(
        fn,
        rest_event(
            "DELETE",
            "/media/{id}",
            path=f"/media/{media_id}",
            headers=bearer(admin),
            path_params={"id": str(media_id)},
        ),
    )


def keys_in(aws) -> set[str]:
    return {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=aws["bucket"]).get("Contents", [])}


def test_deleting_a_media_removes_its_file_previews_jobs_and_row_audited(fn, aws, db, editor):
    media = uploaded_media(fn, aws, db, editor, price_list_pdf())
    job = db.execute(
        "INSERT INTO ocr_jobs (media_id, source_key) VALUES (%s, 'request:1') RETURNING id", (media["id"],)
    ).fetchone()
    preview = f"previews/{job['id']}/1.jpg"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=preview, Body=b"\xff\xd8\xff")
    db.execute(
        """INSERT INTO ocr_pages (job_id, page_number, source, width, height, mean_confidence,
                                         words, text, preview_key)
                  VALUES (%s, 1, 'text', 595, 842, 1, '[]', '', %s)""",
        (job["id"], preview),
    )
    key = db.execute("SELECT object_key FROM media WHERE id = %s", (media["id"],)).fetchone()["object_key"]
    assert {key, preview} <= keys_in(aws)
    response = delete_media(fn, editor, media["id"])
    assert response["statusCode"] == 200 and response["json"] == {"deleted": True}
    assert not {key, preview} & keys_in(aws)
    assert get_media(fn, editor, media["id"])["statusCode"] == 404
    assert db.execute("SELECT count(*) AS n FROM ocr_jobs").fetchone()["n"] == 0
    audit = db.execute(
        "SELECT actor_id, before FROM audit_log WHERE action = 'delete' AND entity = 'media'"
    ).fetchone()
    assert audit["actor_id"] == editor["id"] and audit["before"]["object_key"] == key
    assert delete_media(fn, editor, media["id"])["statusCode"] == 404


def test_a_media_a_product_uses_cannot_be_deleted(fn, aws, db, editor):
    media = uploaded_media(fn, aws, db, editor, price_list_pdf())
    product = db.execute(
        "INSERT INTO products (name, slug) VALUES ('Camión', 'camion') RETURNING id"
    ).fetchone()
    db.execute(
        "INSERT INTO product_media (product_id, media_id) VALUES (%s, %s)", (product["id"], media["id"])
    )
    response = delete_media(fn, editor, media["id"])
    assert response["statusCode"] == 409 and response["json"]["error"]["code"] == "media_in_use"
    assert response["json"]["error"]["details"]["products"] == [{"id": str(product["id"]), "name": "Camión"}]
    assert get_media(fn, editor, media["id"])["json"]["download_url"]
    assert not db.execute("SELECT 1 FROM audit_log WHERE action = 'delete'").fetchone()


def test_deleting_needs_an_editor(fn, aws, db, editor):
    media = uploaded_media(fn, aws, db, editor, price_list_pdf())
    assert delete_media(fn, make_admin(db, "viewer"), media["id"])["statusCode"] == 403
    assert get_media(fn, editor, media["id"])["statusCode"] == 200
