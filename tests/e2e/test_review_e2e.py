"""The review flow of issue 11 end to end over HTTP on the embedded stack (`angebae local` with its
worker): page previews that are images of their page, a page's words, the review queue paged across
its candidates, an accept that never touches an active product without the explicit choice, and a
re-run that supersedes the first run's pending candidates."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import requests
from angebae_local.demo import demo_document
from e2e_support import EMAIL, PASSWORD, upload, wait_until
from PIL import Image, ImageChops, ImageStat

pytestmark = [pytest.mark.e2e, pytest.mark.ocr]


@pytest.fixture
def session(worker_stack) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{worker_stack.url}/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    assert r.status_code == 200, r.text
    return s


def finished(stack, s, job_id: str) -> dict:
    def poll():
        job = s.get(f"{stack.url}/ocr/jobs/{job_id}", params={"limit": 200}, timeout=30).json()
        return job if job["status"] in ("succeeded", "failed") else None

    job = wait_until(poll, 120)
    assert job is not None, stack.log_tail()
    return job


def first_job(stack, s, media_id: str) -> dict:
    items = wait_until(
        lambda: s.get(f"{stack.url}/ocr/jobs", params={"media_id": media_id}, timeout=30).json()["items"], 60
    )
    assert items, stack.log_tail()
    return finished(stack, s, items[-1]["id"])


def rendered(pdf: bytes, number: int, size: tuple[int, int]) -> Image.Image:
    import pymupdf

    page = pymupdf.open(stream=pdf, filetype="pdf")[number - 1]
    zoom = size[0] / page.rect.width
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
    return Image.open(io.BytesIO(pix.tobytes("png"))).convert("L").resize(size)


def difference(a: Image.Image, b: Image.Image) -> float:
    return ImageStat.Stat(ImageChops.difference(a, b)).mean[0]


def test_previews_queue_safe_accepts_and_reruns_over_http(worker_stack, session):
    api, s = worker_stack.url, session
    pdf = demo_document()
    media_id = upload(api, s, "catalogo.pdf", pdf, "application/pdf")
    job = first_job(worker_stack, s, media_id)
    assert job["status"] == "succeeded", job

    # previews: real JPEGs of the right page
    assert [p["page"] for p in job["pages_read"]] == [1, 2]
    assert [p["source"] for p in job["pages_read"]] == ["text_layer", "ocr"]
    for summary in job["pages_read"]:
        got = requests.get(summary["preview_url"], timeout=30)
        assert got.status_code == 200 and got.content[:3] == b"\xff\xd8\xff"
        preview = Image.open(io.BytesIO(got.content)).convert("L")
        own, other = (rendered(pdf, n, preview.size) for n in (summary["page"], 3 - summary["page"]))
        assert difference(preview, own) < difference(preview, other) / 2, summary["page"]
        assert requests.get(summary["thumbnail_url"], timeout=30).status_code == 200

    page = s.get(f"{api}/ocr/jobs/{job['id']}/pages/2", timeout=30).json()
    assert page["source"] == "ocr" and page["words"] and 0 < page["mean_confidence"] <= 1
    assert page["width"] > 0 and page["height"] > 0 and "points" in page["coordinates"]

    # the queue: every candidate of the job once, two a page
    candidates = job["candidates"]["items"]
    seen, cursor = [], None
    while True:
        r = s.get(
            f"{api}/candidates",
            params={
                "job_id": job["id"],
                "limit": 2,
                "sort": "confidence",
                **({"cursor": cursor} if cursor else {}),
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        seen += [c["id"] for c in r.json()["items"]]
        if not (cursor := r.json()["next_cursor"]):
            break
    assert sorted(seen) == sorted(c["id"] for c in candidates) and len(seen) == len(set(seen))

    # an active product with one candidate's SKU, in another case: no change without a choice
    target = next(c for c in candidates if c["sku"])
    product = s.post(
        f"{api}/products",
        json={
            "name": "Mismo producto",
            "sku": target["sku"].lower(),
            "price": "1,00",
            "currency": "eur",
            "status": "active",
        },
        timeout=30,
    ).json()
    assert (product["price"], product["currency"]) == ("1.00", "EUR")
    refused = s.post(f"{api}/candidates/{target['id']}/accept", json={}, timeout=30)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "choice_required"
    assert refused.json()["error"]["details"]["proposal"]["match"] == "sku"
    unchanged = s.get(f"{api}/products/{product['id']}", timeout=30).json()
    assert (unchanged["price"], unchanged["version"]) == ("1.00", 1)
    chosen = s.post(
        f"{api}/candidates/{target['id']}/accept", json={"choice": "update", "product_version": 1}, timeout=30
    )
    assert chosen.status_code == 200, chosen.text
    assert Decimal(chosen.json()["product"]["price"]) == Decimal(target["price"])

    # a re-run supersedes the first run's pending candidates
    rerun = s.post(f"{api}/ocr/jobs", json={"media_id": media_id}, timeout=30)
    assert rerun.status_code == 202, rerun.text
    assert finished(worker_stack, s, rerun.json()["id"])["status"] == "succeeded"
    old = s.get(f"{api}/candidates", params={"job_id": job["id"], "status": "all"}, timeout=30).json()
    statuses = sorted(c["status"] for c in old["items"])
    assert statuses == sorted(["accepted"] + ["superseded"] * (len(candidates) - 1))
    pending = s.get(f"{api}/candidates", params={"media_id": media_id, "limit": 200}, timeout=30).json()
    assert len(pending["items"]) == len(candidates) - 1  # the accepted item is not asked about again
    again = s.get(
        f"{api}/candidates", params={"job_id": rerun.json()["id"], "status": "superseded"}, timeout=30
    ).json()["items"]
    assert [c["duplicate_of"] for c in again] == [target["id"]]  # its copy names the decision
    assert s.post(f"{api}/ocr/jobs", json={"media_id": media_id, "pages": [5]}, timeout=30).status_code == 400
