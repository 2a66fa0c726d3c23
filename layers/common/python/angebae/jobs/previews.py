"""Page previews: each page a job read is rendered once, by the worker, to a JPEG preview (at most
PREVIEW_PIXELS on its longer side) and a thumbnail (THUMBNAIL_PIXELS), stored in the media bucket
under previews/<job id>/<page>.jpg and thumbnails/<job id>/<page>.jpg; the API hands out presigned
links to them. The bucket's ObjectCreated notification covers uploads/ only: previews are never OCR'd.

Rendering runs in a child process (`python -m angebae.jobs.previews`) bounded by time and memory, like the
page reads: a page that takes too long or too much ends only the previews not yet made, never the
job. Each image is written to a temporary name and renamed, so what a killed child leaves is whole.
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PREVIEW_PIXELS = 1200
THUMBNAIL_PIXELS = 240
JPEG_QUALITY = 80
# Generous: a busy machine starts Python and PyMuPDF slowly; the job's lease is 16 minutes.
BASE_SECONDS = 30.0
SECONDS_PER_PAGE = 3.0
MAX_SECONDS = 180.0
MEMORY_BYTES = 1024 * 1024 * 1024
KINDS = {"preview": PREVIEW_PIXELS, "thumbnail": THUMBNAIL_PIXELS}


LINK_TTL_SECONDS = 900


def key(kind: str, job_id, page: int) -> str:
    return f"{kind}s/{job_id}/{page}.jpg"


def links(storage, page: dict) -> dict:
    """{"preview": url, "thumbnail": url} of a page row's keys, presigned (None until made)."""
    return {
        kind: page.get(f"{kind}_key") and storage.presigned_view(page[f"{kind}_key"], LINK_TTL_SECONDS)
        for kind in KINDS
    }


# --- in the child process ----------------------------------------------------------------------------


def _write(out: Path, name: str, data: bytes) -> None:
    partial = out / f".{name}.part"
    partial.write_bytes(data)
    partial.rename(out / name)


def _render_pdf(data: bytes, numbers: list[int], out: Path) -> None:
    import pymupdf

    doc = pymupdf.open(stream=data, filetype="pdf")
    for number in numbers:
        page = doc[number - 1]
        longer = max(page.rect.width, page.rect.height, 1.0)
        for kind, pixels in KINDS.items():
            zoom = pixels / longer
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
            _write(out, f"{number}.{kind}.jpg", pix.tobytes("jpg", jpg_quality=JPEG_QUALITY))


def _render_image(data: bytes, numbers: list[int], out: Path) -> None:
    import io

    from PIL import Image, ImageOps

    img = Image.open(io.BytesIO(data))
    for number in numbers:
        img.seek(number - 1)
        frame = img.copy() if getattr(img, "n_frames", 1) > 1 else img
        frame.draft("RGB", (PREVIEW_PIXELS, PREVIEW_PIXELS))  # JPEGs decode at a fraction of their size
        frame = ImageOps.exif_transpose(frame).convert("RGB")
        for kind, pixels in KINDS.items():
            small = frame.copy()
            small.thumbnail((pixels, pixels))
            buffer = io.BytesIO()
            small.save(buffer, "JPEG", quality=JPEG_QUALITY)
            _write(out, f"{number}.{kind}.jpg", buffer.getvalue())


def _child(out: str, mime: str, numbers: str) -> None:
    data = sys.stdin.buffer.read()
    pages = [int(n) for n in numbers.split(",") if n]
    (_render_pdf if mime == "application/pdf" else _render_image)(data, pages, Path(out))


# --- in the worker -----------------------------------------------------------------------------------


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def render(data: bytes, mime: str, numbers: list[int]) -> dict[int, dict[str, bytes]]:
    """{page: {"preview": jpeg, "thumbnail": jpeg}} for the pages it could render in time."""
    if not numbers:
        return {}
    layer = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [layer, os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="previews-") as out:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "angebae.jobs.previews", out, mime, ",".join(map(str, numbers))],
                input=data,
                capture_output=True,
                env=env,
                preexec_fn=_limit_memory,
                timeout=min(MAX_SECONDS, BASE_SECONDS + SECONDS_PER_PAGE * len(numbers)),
            )
            if done.returncode:
                log.warning("page previews stopped: %s", done.stderr.decode(errors="replace")[-500:])
        except subprocess.TimeoutExpired:
            log.warning("page previews took too long; the pages rendered so far are kept")
        found: dict[int, dict[str, bytes]] = {}
        for path in Path(out).glob("*.jpg"):
            number, kind, _ = path.name.split(".")
            found.setdefault(int(number), {})[kind] = path.read_bytes()
    return {n: images for n, images in found.items() if set(images) == set(KINDS)}


def store(conn_factory, storage, job: dict, data: bytes, mime: str) -> int:
    """Renders the job's pages that have no preview yet, puts them in the bucket and records their
    keys on the pages; returns how many pages got one. Any failure is logged, never raised: a
    preview is a convenience, the job's result is its candidates."""
    try:
        with conn_factory() as conn:
            numbers = [
                r["page_number"]
                for r in conn.execute(
                    """SELECT page_number FROM ocr_pages WHERE job_id = %s AND preview_key IS NULL
                   ORDER BY page_number""",
                    (job["id"],),
                )
            ]
        rendered = render(data, mime, numbers)
        for number, images in sorted(rendered.items()):
            keys = {kind: key(kind, job["id"], number) for kind in KINDS}
            for kind, body in images.items():
                storage.put(keys[kind], body, "image/jpeg")
            with conn_factory() as conn:
                conn.execute(
                    """UPDATE ocr_pages SET preview_key = %s, thumbnail_key = %s
                                WHERE job_id = %s AND page_number = %s""",
                    (keys["preview"], keys["thumbnail"], job["id"], number),
                )
        return len(rendered)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("page previews of job %s failed", job["id"])
        return 0


def store_media_thumbnail(conn_factory, storage, media_id, data: bytes, mime: str) -> bool:
    """A product image's thumbnail, at thumbnails/media/<id>.jpg, its key on the media row. As with
    page previews, a failure is logged, never raised."""
    try:
        images = render(data, mime, [1]).get(1)
        if not images:
            return False
        thumbnail = f"thumbnails/media/{media_id}.jpg"
        storage.put(thumbnail, images["thumbnail"], "image/jpeg")
        with conn_factory() as conn:
            conn.execute("UPDATE media SET thumbnail_key = %s WHERE id = %s", (thumbnail, media_id))
        return True
    except Exception:  # noqa: BLE001
        log.exception("the thumbnail of media %s failed", media_id)
        return False


if __name__ == "__main__":
    _child(*sys.argv[1:4])
