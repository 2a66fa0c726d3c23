"""`angebae local --demo`: the main job end to end, as a real client does it, over HTTP only.

Log in (session cookie), ask for an upload ticket, POST the file with the presigned fields straight
to S3, then follow the OCR job that the S3 notification starts until it ends, and print its result.
Only the standard library: this is what any client of the API can do.
"""

from __future__ import annotations

import json
import mimetypes
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from http.cookiejar import CookieJar
from pathlib import Path
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

DEFAULT_TIMEOUT = 180.0
DEMO_FILENAME = "angebae-demo-catalog.pdf"

# The generated catalog: page 1 keeps its text layer, page 2 is only a picture (Tesseract reads it).
_COLUMNS = (60, 150, 400, 470)
DEMO_PAGES = (
    (
        "Catálogo Angebae - primavera",
        ("Ref.", "Producto", "Cant.", "Precio"),
        (
            ("AO-1001", "Aceite de oliva virgen extra 1 L", "6", "8,95 EUR"),
            ("CF-2040", "Café molido natural 250 g", "12", "4,50 EUR"),
            ("MI-3307", "Miel de azahar 500 g", "24", "6,25 EUR"),
        ),
    ),
    (
        "Price list (scanned page)",
        ("SKU", "Product", "Qty", "Price"),
        (
            ("AB-91444", "Merino wool scarf", "20", "12.49 USD"),
            ("CM-85429", "Stainless steel bottle 750 ml", "10", "23.95 USD"),
            ("ZX-59947", "Kitchen knife set 5 pieces", "15", "82.49 USD"),
        ),
    ),
)


class DemoError(Exception):
    """A step of the demo went wrong; the message says which and why."""


def demo_document() -> bytes:
    """A small two-page catalog PDF: one page with a real text layer, one scanned (image only)."""
    import pymupdf

    doc = pymupdf.open()
    _draw_catalog_page(doc.new_page(), DEMO_PAGES[0])
    scratch = pymupdf.open()
    _draw_catalog_page(scratch.new_page(), DEMO_PAGES[1])
    pixmap = scratch[0].get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    page = doc.new_page()
    page.insert_image(page.rect, pixmap=pixmap)
    return doc.tobytes(garbage=3, deflate=True)


def _draw_catalog_page(page, spec) -> None:
    title, header, rows = spec
    page.insert_text((60, 80), title, fontsize=16, fontname="hebo")
    for r, row in enumerate((header, *rows)):
        for x, cell in zip(_COLUMNS, row, strict=True):
            page.insert_text((x, 130 + r * 26), cell, fontsize=12, fontname="hebo" if r == 0 else "helv")


# ---- the client ----------------------------------------------------------------------------------


class ApiClient:
    """A cookie-keeping HTTP client of the API (urllib, no third-party library)."""

    def __init__(self, base_url: str, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        status, raw = self._send(Request(url, data=data, headers=headers, method=method))
        if status not in expect:
            raise DemoError(f"{method} {path} answered {status}: {_error_text(raw)}")
        return json.loads(raw) if raw else None

    def post_form(
        self, url: str, fields: dict[str, str], filename: str, content: bytes, content_type: str
    ) -> int:
        """A multipart/form-data POST as a browser form sends it: the fields, then the file last."""
        body, boundary = multipart_body(fields, filename, content, content_type)
        request = Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        status, raw = self._send(request)
        if status not in (200, 201, 204):
            raise DemoError(f"the upload to S3 answered {status}: {raw[:300].decode(errors='replace')}")
        return status

    def _send(self, request: Request) -> tuple[int, bytes]:
        try:
            with self.opener.open(request, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except HTTPError as exc:
            return exc.code, exc.read()
        except (URLError, OSError) as exc:
            raise DemoError(f"{request.get_method()} {request.full_url}: {exc}") from None


def multipart_body(
    fields: dict[str, str], filename: str, content: bytes, content_type: str
) -> tuple[bytes, str]:
    boundary = f"angebae-{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    quoted = filename.replace('"', "%22")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), boundary


def _error_text(raw: bytes) -> str:
    try:
        err = json.loads(raw)["error"]
        return f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        return raw[:300].decode(errors="replace") or "(no body)"


# ---- the flow ------------------------------------------------------------------------------------


@dataclass
class DemoResult:
    job: dict
    candidates: list[dict]
    seconds: float  # from the upload request to the job's end, as the client saw it
    already_there: bool = False  # the job of an earlier upload (a restart): `seconds` times nothing

    @property
    def ok(self) -> bool:
        return self.job.get("status") == "succeeded"


def upload_and_wait(
    client: ApiClient,
    filename: str,
    content: bytes,
    content_type: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    out: IO[str] | None = None,
) -> DemoResult:
    """Upload ticket, presigned POST to S3, then poll the job the S3 event starts until it ends."""
    say = _printer(out)
    started = time.monotonic()
    ticket = client.call(
        "POST",
        "/media/uploads",
        {"filename": filename, "content_type": content_type, "size": len(content)},
        expect=(201,),
    )
    media_id = ticket["media"]["id"]
    say(f"upload ticket: media {media_id}")
    upload = ticket["upload"]
    client.post_form(upload["url"], upload["fields"], filename, content, content_type)
    say(f"uploaded {len(content)} bytes straight to S3; waiting for the OCR job...")
    return wait_for_job(client, media_id, started, timeout=timeout, out=out)


def already_uploaded(client: ApiClient, filename: str, size: int) -> dict | None:
    """The newest media this file was uploaded as before (same name and size, its upload checked), so a
    restarted stack's demo does not upload it again and add another set of pending candidates."""
    cursor = None
    while True:
        listing = client.call("GET", "/media", query={"limit": 100, **({"cursor": cursor} if cursor else {})})
        for media in listing["items"]:
            if (media["filename"], media["declared_size"], media["status"]) == (filename, size, "uploaded"):
                return media
        cursor = listing.get("next_cursor")
        if not cursor:
            return None


def wait_for_job(
    client: ApiClient,
    media_id: str,
    started: float,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    out: IO[str] | None = None,
) -> DemoResult:
    """Poll the media's newest OCR job until it ends; its candidates."""
    say = _printer(out)
    deadline = started + timeout
    job_id, last_progress = None, None
    while True:
        if job_id is None:
            items = client.call("GET", "/ocr/jobs", query={"media_id": media_id})["items"]
            job_id = items[0]["id"] if items else None
        job = client.call("GET", f"/ocr/jobs/{job_id}", query={"limit": 200}) if job_id else None
        if job and job["status"] in ("succeeded", "failed"):
            break
        if job:
            progress = job["progress"]
            if (job["status"], progress) != last_progress:
                last_progress = (job["status"], progress)
                say(
                    f"  job {job_id}: {job['status']}, {progress['pages_done'] or 0}/"
                    f"{progress['pages_total'] or '?'} pages"
                )
        if time.monotonic() > deadline:
            state = f"job {job_id} still {job['status']}" if job else "no OCR job was created"
            raise DemoError(
                f"gave up after {timeout:g} s: {state} (is the OCR worker running? see the stack's log above)"
            )
        time.sleep(0.5)
    seconds = time.monotonic() - started
    candidates = list(job["candidates"]["items"])
    cursor = job["candidates"]["next_cursor"]
    while cursor:
        more = client.call("GET", f"/ocr/jobs/{job_id}/candidates", query={"limit": 200, "cursor": cursor})
        candidates += more["items"]
        cursor = more["next_cursor"]
    return DemoResult(job, candidates, seconds)


def run_demo(
    api_url: str,
    email: str,
    password: str,
    file: Path | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    out: IO[str] | None = None,
) -> bool:
    """The whole demo; prints its steps and a summary on `out`; True when the job succeeded."""
    out = out or sys.stdout
    say = _printer(out)
    try:
        if file is None:
            content, filename, content_type = demo_document(), DEMO_FILENAME, "application/pdf"
            say(f"demo: a generated 2-page catalog ({len(content)} bytes: one text page, one scanned)")
        else:
            content, filename = file.read_bytes(), file.name
            content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            say(f"demo: {file} ({len(content)} bytes, {content_type})")
        client = ApiClient(api_url)
        client.call("POST", "/admin/login", {"email": email, "password": password})
        say(f"logged in as {email}")
        if (media := already_uploaded(client, filename, len(content))) is not None:
            say(
                f"{filename} was uploaded before (media {media['id']}, {media['created_at']}): not "
                "uploaded again; its latest OCR job:"
            )
            result = wait_for_job(client, media["id"], time.monotonic(), timeout=timeout, out=out)
            result.already_there = True
        else:
            result = upload_and_wait(client, filename, content, content_type, timeout=timeout, out=out)
    except DemoError as exc:
        say(f"demo FAILED: {exc}")
        return False
    say(format_summary(result))
    return result.ok


def format_summary(result: DemoResult) -> str:
    job = result.job
    pages = job["progress"]["pages_total"] or job["progress"]["pages_done"] or 0
    run = job["timings"].get("run_seconds")
    timing = (
        "the demo's job was already there (not uploaded again)"
        if result.already_there
        else f"{result.seconds:.1f} s from upload request to result"
    )
    lines = [
        f"OCR job {job['id']}: {job['status'].upper()}",
        f"  pages {pages}, OCR {run if run is not None else '-'} s, {timing}",
    ]
    if job.get("error"):
        lines.append(f"  error {job['error']['code']}: {job['error']['message']}")
    if job["status"] == "succeeded":
        lines.append(f"  {len(result.candidates)} candidate(s)")
        if result.candidates:
            lines.append(candidates_table(result.candidates))
    return "\n".join(lines)


def candidates_table(candidates: list[dict]) -> str:
    header = ("page", "name", "price", "currency", "sku", "qty", "confidence")
    rows = [
        (
            str(c.get("page_number") or ""),
            _clip(c.get("name") or "", 40),
            _number(c.get("price"), 2),
            c.get("currency") or "",
            c.get("sku") or "",
            _number(c.get("qty")),
            f"{float(c['confidence']):.2f}" if c.get("confidence") is not None else "",
        )
        for c in candidates
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    numeric = {0, 2, 5, 6}

    def fmt(row) -> str:
        return "  ".join(
            v.rjust(w) if i in numeric else v.ljust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join(
        ["  " + fmt(header), "  " + fmt(["-" * w for w in widths]), *("  " + fmt(r) for r in rows)]
    )


def _number(value: Any, places: int | None = None) -> str:
    """8.9500 -> 8.95 (price, 2 places), 10.0000 -> 10 (qty); empty for None."""
    if value is None:
        return ""
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None:
        return f"{d:.{places}f}"
    return f"{d.normalize():f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _printer(out: IO[str] | None):
    def say(text: str) -> None:
        if out is not None:
            out.write(text + "\n")
            out.flush()

    return say
