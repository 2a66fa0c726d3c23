"""Reading documents into pages: text layer vs OCR, parallel workers, timeouts, progress, samples.

Most tests swap Tesseract for a fake engine (worker processes are forked, so they inherit it);
tests marked `ocr` run the real one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import fixtures_docs as docs
import pytest
from angebae.ocr import engine as engine_module
from angebae.ocr.document import PDF, DocumentError, Limits
from angebae.ocr.pipeline import read_document, run_document
from angebae.ocr.types import Page, Word


class FakeEngine:
    """Answers one word naming the worker's pid and the image size; `behaviour` hangs or crashes."""

    name = "fake"

    def __init__(self, behaviour: str = "ok", delay: float = 0.0):
        self.behaviour = behaviour
        self.delay = delay

    def languages(self) -> set[str]:
        return {"spa", "eng"}

    def ocr_image(self, image, languages, timeout, psm=3):
        if self.behaviour == "hang":
            time.sleep(3600)
        if self.behaviour == "crash":
            os._exit(3)
        time.sleep(self.delay)
        s = image.points_per_pixel
        return [Word(f"pid{os.getpid()}", 0, 0, image.width * s, image.height * s, 0.9, 1, 0)]


@pytest.fixture
def fake_engine(monkeypatch):
    def use(behaviour: str = "ok", delay: float = 0.0) -> FakeEngine:
        fake = FakeEngine(behaviour, delay)
        monkeypatch.setattr(engine_module, "get_engine", lambda name=None: fake)
        return fake

    return use


def _no_leftover_workers() -> bool:
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


def test_given_native_pdf_when_read_then_text_layer_pages_without_ocr(fake_engine):
    fake_engine("crash")  # proves no page reached OCR
    pages = list(read_document(docs.native_pdf(pages=2), declared_type=PDF))
    assert [p.number for p in pages] == [1, 2]
    assert all(p.source == "text" and p.mean_confidence == 1.0 for p in pages)
    assert "Merino wool scarf" in pages[0].text


def test_given_light_text_pages_when_read_then_read_here_and_heavier_ones_in_the_killable_pool():
    # GIVEN a native PDF of a few lines, and one whose page content decodes past the inline budget
    light = docs.native_pdf(pages=2)
    heavy = docs.native_pdf(pages=1, lines=[f"Line {i} of a long price list 12,50 EUR" for i in range(30)])
    limits = Limits(max_inline_content_bytes=256)
    # WHEN each is read, looking for worker processes while its first page is handed over
    for data, options, pooled in ((light, {}, False), (heavy, {"limits": limits}, True)):
        pages = read_document(data, declared_type=PDF, **options)
        first = next(pages)
        # THEN light pages never start a process (a fork per native PDF cost more than reading it);
        # a page past the budget is read by a worker that its time and memory limits can kill
        assert first.source == "text"
        assert bool(multiprocessing.active_children()) is pooled
        pages.close()
        assert _no_leftover_workers()


def test_given_mixed_pdf_when_read_then_text_page_from_layer_and_scanned_page_from_ocr(fake_engine):
    fake_engine()
    pages = {p.number: p for p in read_document(docs.mixed_pdf())}
    assert pages[1].source == "text"
    assert pages[2].source == "ocr"
    word = pages[2].words[0]
    assert (word.x1, word.y1) == pytest.approx((595, 842), abs=1)  # pixels scaled back to points


def test_given_several_scanned_pages_when_read_with_two_workers_then_pages_spread_over_processes(fake_engine):
    fake_engine(delay=0.3)
    pages = list(read_document(docs.scanned_pdf(pages=4, dpi=72), workers=2))
    assert sorted(p.number for p in pages) == [1, 2, 3, 4]
    assert len({p.words[0].text for p in pages}) == 2
    assert _no_leftover_workers()


def test_given_progress_callback_and_skip_pages_when_read_then_each_new_page_reported_once(fake_engine):
    fake_engine()
    seen: list[int] = []
    pages = list(
        read_document(
            docs.scanned_pdf(pages=3, dpi=72), skip_pages={2}, on_page=lambda p: seen.append(p.number)
        )
    )
    assert sorted(seen) == [1, 3]
    assert sorted(p.number for p in pages) == [1, 3]


def test_given_page_selection_when_read_then_only_those_pages_and_bad_numbers_rejected(fake_engine):
    fake_engine()
    data = docs.native_pdf(pages=3)
    assert [p.number for p in read_document(data, pages=[3, 1])] == [1, 3]
    with pytest.raises(DocumentError) as info:
        list(read_document(data, pages=[4]))
    assert info.value.code == "invalid_pages"


def test_given_hung_ocr_when_page_timeout_passes_then_ocr_timeout_and_workers_killed(fake_engine):
    fake_engine("hang")
    started = time.monotonic()
    with pytest.raises(DocumentError) as info:
        list(read_document(docs.scanned_pdf(dpi=72), limits=Limits(page_timeout_seconds=0.2)))
    assert info.value.code == "ocr_timeout"
    assert info.value.page == 1
    assert time.monotonic() - started < 10
    assert _no_leftover_workers()


def test_given_crashing_ocr_worker_when_read_then_ocr_failed_not_a_hang(fake_engine):
    fake_engine("crash")
    with pytest.raises(DocumentError) as info:
        list(read_document(docs.scanned_pdf(dpi=72)))
    assert info.value.code == "ocr_failed"
    assert _no_leftover_workers()


def test_given_caller_stops_early_when_generator_closed_then_workers_stopped(fake_engine):
    fake_engine(delay=0.2)
    pages = read_document(docs.scanned_pdf(pages=4, dpi=72), workers=2)
    next(pages)
    pages.close()
    assert _no_leftover_workers()


def test_given_huge_page_when_read_then_page_too_large_before_any_rendering(fake_engine, monkeypatch):
    import pymupdf

    fake_engine()
    monkeypatch.setattr(pymupdf.Page, "get_pixmap", lambda *a, **k: pytest.fail("rendered"))
    with pytest.raises(DocumentError) as info:
        list(read_document(docs.huge_page_pdf(8400)))
    assert info.value.code == "page_too_large"


def test_given_unknown_language_when_page_needs_ocr_then_unsupported_language(fake_engine):
    fake_engine()
    with pytest.raises(DocumentError) as info:
        list(read_document(docs.scanned_pdf(dpi=72), languages="spa+klingon"))
    assert info.value.code == "unsupported_language"


def test_given_known_pages_when_run_then_candidates_from_old_and_new_pages_together(fake_engine):
    pytest.importorskip("angebae.ocr.extract")
    fake_engine()
    data = docs.native_pdf(pages=2)
    first = next(iter(read_document(data, pages=[1])))
    result = run_document(data, known_pages=[first], skip_pages={1})
    assert result["pages"] == 2
    assert isinstance(result["candidates"], list)
    assert all({"name", "price", "page"} <= set(c) for c in result["candidates"])


def test_given_page_when_pickled_then_crosses_process_boundary():
    import pickle

    page = Page(1, 10, 20, [Word("a", 0, 0, 1, 1)], "ocr", 0.5)
    error = DocumentError("ocr_timeout", "slow", 3)
    assert pickle.loads(pickle.dumps(page)) == page
    again = pickle.loads(pickle.dumps(error))
    assert (again.code, again.message, again.page) == ("ocr_timeout", "slow", 3)


# --- with Tesseract ---------------------------------------------------------------------------


@pytest.mark.ocr
@pytest.mark.parametrize("engine", ["tesserocr", "pytesseract"])
def test_given_scanned_pdf_when_ocr_then_words_read_with_confidence_and_positions(engine):
    if engine == "tesserocr":
        pytest.importorskip("tesserocr")
    [page] = read_document(docs.scanned_pdf(), engine=engine, languages="eng")
    assert page.source == "ocr"
    for expected in ("Merino", "AB-91444", "12.49", "Kitchen", "82.49"):
        assert expected in page.text
    assert page.mean_confidence > 0.8
    first = next(w for w in page.words if w.text == "Merino")
    x, y = docs.TEXT_ORIGIN
    assert abs(first.x0 - x) < 3 and first.y0 - 3 < y < first.y1 + 3
    assert first.block > 0


@pytest.mark.ocr
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_given_image_when_ocr_then_text_read(fmt):
    [page] = read_document(docs.image_bytes(fmt), languages="spa+eng")
    assert "ZX-59947" in page.text


@pytest.mark.ocr
def test_given_tiny_timeout_when_real_ocr_then_ocr_timeout():
    with pytest.raises(DocumentError) as info:
        list(read_document(docs.scanned_pdf(), limits=Limits(page_timeout_seconds=0.001)))
    assert info.value.code == "ocr_timeout"
    assert _no_leftover_workers()


@pytest.mark.ocr
def test_given_uninstalled_language_when_ocr_then_unsupported_language():
    with pytest.raises(DocumentError) as info:
        list(read_document(docs.scanned_pdf(dpi=72), languages="tlh"))
    assert info.value.code == "unsupported_language"


# --- shared samples (skipped where the folder is absent) --------------------------------------

REAL = docs.SAMPLES / "real"
BAD_SAMPLES = sorted(REAL.glob("bad-*.json")) if REAL.is_dir() else []
# Codes a careful reader may give each sample (its JSON's `expected` describes the behaviour).
ACCEPTED_CODES = {
    "bad-encrypted-aes256-user-password": {"encrypted"},
    "bad-huge-page-jbig2-35000px": {"page_too_large"},
    "bad-invalid-pdf-header-only": {"corrupt"},
    "bad-not-a-pdf-text": {"unsupported_type", "corrupt"},
    "bad-pdf-zero-pages": {"no_pages"},
    "bad-png-named-jpg": {"type_mismatch"},
    "bad-truncated-jpeg": {"corrupt"},
    "bad-truncated-pdf": {"corrupt", "no_pages"},
    "bad-webp-named-png": {"type_mismatch", "unsupported_type"},
    "bad-zero-byte": {"empty"},
}


@pytest.mark.skipif(not BAD_SAMPLES, reason=docs.SAMPLES_MISSING)
@pytest.mark.parametrize("meta_path", BAD_SAMPLES, ids=lambda p: p.stem)
def test_given_bad_sample_when_read_then_clean_document_error(meta_path, fake_engine):
    fake_engine()
    meta = json.loads(meta_path.read_text())
    path = REAL / meta["file"]
    declared = path.suffix  # what an upload form would declare from the file name
    with pytest.raises(DocumentError) as info:
        list(read_document(path.read_bytes(), declared_type=declared))
    assert info.value.code in ACCEPTED_CODES.get(meta["id"], {info.value.code}), meta["expected"]
    assert _no_leftover_workers()
