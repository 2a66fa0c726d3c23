"""Helpers for the upload, worker and OCR API tests: admins with tokens, documents made on the spot
(PyMuPDF, Pillow), uploads into a moto bucket, and SQS records as Lambda delivers them."""

from __future__ import annotations

import io
import json
import uuid
from urllib.parse import quote_plus

from angebae.auth import sessions
from angebae.catalog import media
from angebae.db import Database
from angebae.settings import Settings, get_settings
from angebae.storage import Storage

ROWS = [
    ("A-100", "Tornillo hexagonal acero 10 mm", "12,50"),
    ("B-200", "Tuerca de seguridad M8", "3,75"),
    ("C-300", "Arandela plana inoxidable", "0,95"),
    ("D-400", "Llave combinada 13 mm", "18,40"),
]


def make_admin(db, role: str = "editor") -> dict:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    return db.execute(
        "INSERT INTO admin_users (email, password_hash, role) VALUES (%s, 'x', %s) RETURNING *", (email, role)
    ).fetchone()


def bearer(admin: dict) -> dict:
    return {"Authorization": f"Bearer {sessions.issue_session(get_settings(), admin).token}"}


def price_list_pdf(pages: int = 1) -> bytes:
    """A native PDF price list (text layer): a header row and product rows on every page."""
    import pymupdf

    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_text((50, 60), f"Ferretería Angebae - Lista de precios EUR - página {n + 1}", fontsize=12)
        y = 110
        for x, label in ((50, "Código"), (130, "Descripción"), (450, "Precio")):
            page.insert_text((x, y), label, fontsize=10)
        for code, name, price in ROWS:
            y += 24
            page.insert_text((50, y), f"{code}{n}", fontsize=10)
            page.insert_text((130, y), name, fontsize=10)
            page.insert_text((450, y), f"{price} €", fontsize=10)
    data = doc.tobytes()
    doc.close()
    return data


def totals_only_pdf(*, after: bytes | None = None) -> bytes:
    """A page printing prices no product can be read from (a total, a tax line): appended to the
    PDF `after` when given, else alone."""
    import pymupdf

    doc = pymupdf.open(stream=after, filetype="pdf") if after else pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((50, 60), "Gracias por su compra", fontsize=12)
    page.insert_text((50, 100), "Total", fontsize=10)
    page.insert_text((450, 100), "12,50 EUR", fontsize=10)
    data = doc.tobytes()
    doc.close()
    return data


def blank_pdf(width: float = 595, height: float = 842, *, encrypted: bool = False) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    if encrypted:
        page.insert_text((50, 60), "secret price list", fontsize=12)
        data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    else:
        data = doc.tobytes()
    doc.close()
    return data


def png_bytes(text: str = "", size=(400, 200)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("L", size, 255)
    if text:
        ImageDraw.Draw(img).text((10, 10), text, fill=0)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def worker_settings(aws: dict, database_url: str, **overrides) -> Settings:
    values = {
        "database_url": database_url,
        "media_bucket": aws["bucket"],
        "ocr_queue_url": aws["queue_url"],
        "ocr_workers": 1,
    }
    return Settings(**{**values, **overrides})


def upload(
    db_url: str,
    aws: dict,
    admin: dict,
    data: bytes,
    *,
    content_type: str = "application/pdf",
    filename: str = "lista.pdf",
    bucket: str | None = None,
    size: int | None = None,
    post: bool = True,
    purpose: str = "document",
) -> dict:
    """A media row made as POST /media/uploads makes it (declaring `size`, else the data's), and the file
    posted with its presigned form, as a client does (unless `post` is false or `bucket` names another
    bucket). The row comes back with the form under "form"."""
    settings = Settings(database_url=db_url, media_bucket=bucket or aws["bucket"])
    database = Database(db_url)
    try:
        ticket = media.create_upload(
            database,
            Storage(aws["s3"], settings.media_bucket),
            settings,
            admin,
            filename=filename,
            content_type=content_type,
            size=size or max(1, len(data)),
            purpose=purpose,
        )
        with database.transaction() as conn:
            row = conn.execute("SELECT * FROM media WHERE id = %s", (ticket["media"]["id"],)).fetchone()
    finally:
        database.close()
    row["form"] = ticket["upload"]
    if post and bucket is None:
        post_form(ticket["upload"], data)
    return row


def post_form(form: dict, data: bytes, **changed_fields) -> None:
    """The multipart POST of `data` with the presigned form's fields (some changed, as an attacker
    would; a field set to None is left out); moto does not check the policy."""
    import requests

    fields = {k: v for k, v in {**form["fields"], **changed_fields}.items() if v is not None}
    response = requests.post(form["url"], data=fields, files={"file": ("file", data)}, timeout=30)
    assert response.status_code in (200, 201, 204), response.text


def s3_message(
    bucket: str, key: str, *, etag: str = "etag-1", size: int = 1, version: str | None = None
) -> str:
    obj = {"key": quote_plus(key), "size": size, "eTag": etag, "sequencer": "0A1B2C"}
    if version:
        obj["versionId"] = version
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventName": "ObjectCreated:Post",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": obj,
                    },
                }
            ]
        }
    )


def job_message(job_id) -> str:
    return json.dumps({"job_id": str(job_id)})


def sqs_record(body: str, *, receive_count: int = 1, message_id: str | None = None) -> dict:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:ocr",
        "awsRegion": "us-east-1",
    }


def drain_upload(aws: dict, database_url: str, media: dict) -> dict:
    """The worker, as a fresh process runs it, on the S3 notification of this media's upload."""
    from angebae.db import Database
    from angebae.jobs.worker import process_batch

    database = Database(database_url)
    try:
        return process_batch(
            [sqs_record(s3_message(media["bucket"], media["object_key"]))],
            db=database,
            s3=aws["s3"],
            settings=worker_settings(aws, database_url),
        )
    finally:
        database.close()
