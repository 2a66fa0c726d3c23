"""RELIABILITY 14-15 and issue 13: malformed documents built here fail with a clear code, at once.

Whatever a document library raises while reading a document is the document's fault, wherever in the
reading it happens (opening, counting pages, a page's text layer, rendering, decoding an image frame).
"""

from __future__ import annotations

import multiprocessing
import resource

import fixtures_docs as docs
import hostile_docs as hostile
import pymupdf
import pytest
from angebae.ocr.document import DEFAULT_LIMITS, DocumentError, Limits, open_document
from angebae.ocr.pipeline import read_document


@pytest.mark.parametrize("name", sorted(hostile.MALFORMED))
def test_a_malformed_document_fails_with_its_code_and_leaves_no_worker(name):
    make, mime, code = hostile.MALFORMED[name]
    with pytest.raises(DocumentError) as info:
        list(read_document(make(), declared_type=mime, languages="eng", workers=1))
    assert info.value.code == code, info.value
    assert info.value.message
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("name", sorted(hostile.TOLERATED))
def test_damage_repaired_without_loss_is_read_as_usual(name):
    make, mime, pages = hostile.TOLERATED[name]
    read = list(read_document(make(), declared_type=mime, languages="eng", workers=1))
    assert sorted(p.number for p in read) == list(range(1, pages + 1))
    if mime == hostile.PDF:
        assert "Tornillo hexagonal 12,50 EUR" in read[0].text


def test_a_page_tree_that_loops_fails_when_the_document_is_opened():
    with pytest.raises(DocumentError) as info:
        open_document(hostile.page_tree_loop(), hostile.PDF)
    assert (info.value.code, info.value.message) == (
        "corrupt",
        "not a readable PDF (code=7: Invalid number of pages)",
    )


# --- RELIABILITY 15 for the text layer (issue 13.1): bounded from the reader's own accounting --------

MiB = 1024 * 1024


def _peak_rss() -> tuple[int, int]:
    """The kernel's high-water marks (bytes): this process's, and its largest finished child's."""
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    )


def _refused(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[DocumentError, list[int]]:
    stored: list[int] = []
    with pytest.raises(DocumentError) as info:
        list(
            read_document(
                data,
                languages="eng",
                workers=1,
                limits=limits,
                on_page=lambda page: stored.append(page.number),
            )
        )
    assert not multiprocessing.active_children()
    return info.value, stored


def _read_and_account(data: bytes, limits: Limits, conn) -> None:
    before, _ = _peak_rss()
    error, stored = _refused(data, limits)
    conn.send((error.code, error.page, error.message, stored, before, *_peak_rss()))


def _refused_in_a_process_of_its_own(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict:
    """The refusal, and the kernel's high-water marks of the reading process (before and after) and
    of the workers it started, counting this read alone."""
    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe()
    reader = ctx.Process(target=_read_and_account, args=(data, limits, theirs))
    reader.start()
    values = ours.recv()
    reader.join()
    names = ("code", "page", "message", "stored", "before", "reader", "workers")
    return dict(zip(names, values, strict=True))


PER_PAGE = "page 1's content decodes to more than 8 MiB, the limit per page"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: hostile.glyph_bomb(60_000_000), PER_PAGE),
        (lambda: hostile.glyph_bomb(10_000_000, pages=200), PER_PAGE),
        (
            lambda: hostile.glyph_bomb(2_000_000, pages=200),  # 2 MB a page, 256 MiB after 134 pages
            "the pages' content decodes to more than 256 MiB in all (at page 135)",
        ),
        (lambda: hostile.whitespace_bomb(4), PER_PAGE),
    ],
    ids=[
        "60M-glyphs-in-66KB",
        "200-pages-sharing-10M-glyphs",
        "200-pages-sharing-2M-glyphs",
        "4GiB-of-whitespace",
    ],
)
def test_content_that_inflates_past_the_budget_is_refused_before_any_page_is_read(make, message):
    data = make()
    assert len(data) < 5 * MiB
    read = _refused_in_a_process_of_its_own(data)
    assert (read["code"], read["message"]) == ("page_too_complex", message)
    assert read["stored"] == []  # counted, not extracted: nothing was read
    assert read["reader"] - read["before"] < 64 * MiB  # the 60M glyphs took 1.5 GB to extract
    assert read["workers"] == 0  # no worker was started


def test_forms_drawing_forms_are_killed_at_the_text_layers_memory_limit():
    data = hostile.nested_form_bomb(depth=6)  # 2.5 KB, 10 million glyphs: 1.1 GB and 10 s to extract
    read = _refused_in_a_process_of_its_own(data, Limits(text_memory_bytes=256 * MiB))
    assert (read["code"], read["page"]) == ("page_too_complex", 1)
    assert read["message"] == "page 1 needs more than 256 MiB of memory to read its text layer"
    # the killed worker's own high-water mark: what it inherited, its limit and at most one poll's growth
    assert read["workers"] < read["reader"] + 256 * MiB + 128 * MiB


def test_forms_drawing_lines_are_killed_at_the_text_layers_time_limit():
    data = hostile.nested_form_bomb(depth=8, leaf=hostile.LINES)  # no glyph, 4 minutes of drawing
    error, _ = _refused(data, Limits(text_timeout_seconds=1))
    assert (error.code, error.message) == (
        "page_too_complex",
        "page 1's text layer takes longer than 1 s to read",
    )


def test_pages_are_handed_over_as_they_are_read_before_a_page_that_is_too_complex():
    doc = pymupdf.open(stream=docs.native_pdf(pages=2), filetype="pdf")
    doc.insert_pdf(pymupdf.open(stream=hostile.nested_form_bomb(depth=6), filetype="pdf"))
    error, stored = _refused(doc.tobytes(), Limits(text_memory_bytes=256 * MiB))
    assert (error.code, error.page) == ("page_too_complex", 3)
    assert stored == [1, 2]
