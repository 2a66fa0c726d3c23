"""RELIABILITY 14-15 and issue 13: malformed documents built here fail with a clear code, at once.

Whatever a document library raises while reading a document is the document's fault, wherever in the
reading it happens (opening, counting pages, a page's text layer, rendering, decoding an image frame).
"""

from __future__ import annotations

import multiprocessing

import hostile_docs as hostile
import pytest
from angebae.ocr.document import DocumentError, open_document
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
        "corrupt", "not a readable PDF (code=7: Invalid number of pages)")
