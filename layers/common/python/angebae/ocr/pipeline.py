"""From document bytes to pages of words: text layer where a page has one, parallel OCR elsewhere.

OCR runs in worker processes (one Tesseract thread each, OMP_THREAD_LIMIT=1), started with fork and
talking over pipes: Lambda has no /dev/shm, so multiprocessing.Pool and Queue cannot be used there.
Each worker opens the document itself and renders one page at a time, so no process ever holds more
than one rendered page. A page photographed or scanned sideways or upside down is OCR'd upright
(angebae.ocr.engine.ocr_upright): its Page's size and words describe it as meant to be read. Pages
are yielded as they finish (not in page order) for the caller to store them at once and resume
later with `skip_pages`. A page that outlives its time limit has its worker killed and ends the
document with DocumentError("ocr_timeout").
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait

from angebae.ocr.document import DEFAULT_LIMITS, PDF, DocumentError, Limits, open_document
from angebae.ocr.types import Candidate, Page

_OCR_JOB = tuple[int, float]  # (page number, DPI to render at)


def read_document(
    data: bytes,
    *,
    declared_type: str | None = None,
    languages: str = "spa+eng",
    pages: Iterable[int] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    workers: int = 0,
    skip_pages: Iterable[int] = frozenset(),
    on_page: Callable[[Page], None] | None = None,
    engine: str | None = None,
    psm: int | None = None,
) -> Iterator[Page]:
    """Yields each requested page (1-based `pages`, default all, minus `skip_pages`) as it is read.

    Every check that needs no rendering (type, size, encryption, page count, each page's pixel
    count, the OCR languages) runs before the first page is yielded. `workers=0` uses every CPU.
    `engine` is "tesserocr" or "pytesseract" (default: see angebae.ocr.engine.get_engine).
    Raises DocumentError.
    """
    doc = open_document(data, declared_type, limits)
    try:
        numbers = _select_pages(doc.page_count, pages, skip_pages)
        text_pages, ocr_jobs = _classify(doc, numbers)
    finally:
        doc.close()
    if ocr_jobs:
        from angebae.ocr.engine import check_languages

        check_languages(languages, engine)
    psm = psm if psm is not None else page_segmentation(doc.mime)
    pool = _OcrPool(data, doc.mime, languages, limits, workers, engine, psm) if ocr_jobs else None
    try:
        if pool:
            pool.submit(ocr_jobs)  # workers start on OCR while text pages are handed over
        for page in text_pages:
            yield _deliver(page, on_page)
        if pool:
            for page in pool.results():
                yield _deliver(page, on_page)
    finally:
        if pool:
            pool.close()


def page_segmentation(mime: str) -> int:
    """Tesseract's page segmentation mode by the kind of input, as measured on the real samples:
    camera images (receipts, one column) read best as one block (6); rendered PDF pages, with
    addresses side by side and dot leaders, with automatic segmentation (3)."""
    return 3 if mime == PDF else 6


def run_document(
    data: bytes, *, default_currency: str | None = None, known_pages: Iterable[Page] = (), **options
) -> dict:
    """Reads the document (options as read_document) and extracts product candidates.

    `known_pages` are pages stored by an earlier, interrupted attempt (pass their numbers in
    `skip_pages`): candidates come from all pages together. A PDF that carries an e-invoice has its
    candidates from the XML (`source` "xml"); its pages are still read. Otherwise `source` is "layout".
    """
    pages = list(known_pages) + list(read_document(data, **options))
    pages.sort(key=lambda p: p.number)
    source, candidates = choose_candidates(data, pages, default_currency=default_currency)
    return {"pages": len(pages), "source": source, "candidates": [c.to_json() for c in candidates]}


def choose_candidates(data: bytes, pages: list[Page], *, default_currency: str | None = None
                      ) -> tuple[str, list[Candidate]]:
    """("xml", the embedded e-invoice's items) when the document carries one, else ("layout", the
    candidates read from the pages' words)."""
    from angebae.ocr.einvoice import read_einvoice

    exact = read_einvoice(data)
    if exact is not None:
        return "xml", exact
    from angebae.ocr.candidates import extract_candidates

    return "layout", extract_candidates(pages, default_currency=default_currency)


def _deliver(page: Page, on_page: Callable[[Page], None] | None) -> Page:
    if on_page is not None:
        on_page(page)
    return page


def _select_pages(count: int, pages: Iterable[int] | None, skip: Iterable[int]) -> list[int]:
    wanted = range(1, count + 1) if pages is None else sorted(set(pages))
    outside = [n for n in wanted if not 1 <= n <= count]
    if outside:
        raise DocumentError("invalid_pages", f"pages {outside} are outside 1..{count}")
    skipped = set(skip)
    return [n for n in wanted if n not in skipped]


def _classify(doc, numbers: list[int]) -> tuple[list[Page], list[_OCR_JOB]]:
    """Text-layer pages, ready; and the pages to OCR with their DPI (the pixel guard runs here)."""
    text_pages: list[Page] = []
    ocr_jobs: list[_OCR_JOB] = []
    for number in numbers:
        started = time.perf_counter()
        words = doc.text_words(number)
        if words is None:
            ocr_jobs.append((number, doc.render_dpi(number)))
            continue
        width, height = doc.page_size(number)
        text_pages.append(Page(number, width, height, words, "text", time.perf_counter() - started))
    return text_pages, ocr_jobs


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _deadline_seconds(limits: Limits) -> float:
    """Tesseract gets the page timeout itself; the hard kill adds room for model load and render."""
    return limits.page_timeout_seconds + max(1.0, limits.page_timeout_seconds * 0.25)


def _worker_main(conn, data: bytes, mime: str, languages: str, limits: Limits, engine: str | None, psm: int):
    """Worker loop: receive (page, dpi), send ("page", Page) or ("error", DocumentError); None stops."""
    from angebae.ocr.engine import get_engine, ocr_upright

    doc = ocr = None
    while (job := conn.recv()) is not None:
        number, dpi = job
        started = time.perf_counter()
        try:
            doc = doc or open_document(data, mime, limits)  # its errors are the page's: inside the try
            ocr = ocr or get_engine(engine)
            image = doc.render(number, dpi)
            read = ocr_upright(ocr, image, languages, limits.page_timeout_seconds, psm)
            del image
            width, height = doc.page_size(number)
            if read.rotation in (90, 270):  # the Page describes the page upright, as its words do
                width, height = height, width
            page = Page(number, width, height, read.words, "ocr", time.perf_counter() - started)
            conn.send(("page", page))
        except DocumentError as exc:
            conn.send(("error", exc))
        except Exception as exc:
            conn.send(
                ("error", DocumentError("ocr_failed", f"page {number}: {type(exc).__name__}: {exc}", number))
            )


class _Worker:
    def __init__(self, ctx, args: tuple):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.page: int | None = None
        self.deadline = 0.0

    def assign(self, job: _OCR_JOB, seconds: float) -> None:
        self.page = job[0]
        self.deadline = time.monotonic() + seconds
        self.conn.send(job)

    def receive(self) -> Page:
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            code = self.process.exitcode
            raise DocumentError(
                "ocr_failed", f"the OCR worker died on page {self.page} (exit code {code})", self.page
            ) from None
        self.page = None
        if kind == "error":
            raise value
        return value

    def stop(self) -> None:
        if self.page is None and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(timeout=1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class _OcrPool:
    """Worker processes fed one page at a time; a page past its deadline kills the whole pool."""

    def __init__(self, data, mime, languages, limits, workers, engine, psm):
        self._args = (data, mime, languages, limits, engine, psm)
        self._size = workers if workers > 0 else _cpu_count()
        self._deadline = _deadline_seconds(limits)
        self._limits = limits
        self._pending: deque[_OCR_JOB] = deque()
        self._workers: list[_Worker] = []

    def submit(self, jobs: list[_OCR_JOB]) -> None:
        self._pending.extend(jobs)
        ctx = multiprocessing.get_context("fork")
        while len(self._workers) < min(self._size, len(self._pending)):
            self._workers.append(_Worker(ctx, self._args))
        self._dispatch()

    def _dispatch(self) -> None:
        for worker in self._workers:
            if worker.page is None and self._pending:
                worker.assign(self._pending.popleft(), self._deadline)

    def results(self) -> Iterator[Page]:
        while busy := [w for w in self._workers if w.page is not None]:
            wait_for = min(w.deadline for w in busy) - time.monotonic()
            ready = wait([w.conn for w in busy], timeout=max(0.0, wait_for))
            for worker in busy:
                if worker.conn in ready:
                    page = worker.receive()
                    self._dispatch()
                    yield page
            now = time.monotonic()
            late = [w for w in busy if w.page is not None and w.deadline <= now and not w.conn.poll()]
            if late:
                raise DocumentError(
                    "ocr_timeout",
                    f"page {late[0].page} took longer than {self._limits.page_timeout_seconds:g} s",
                    late[0].page,
                )

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []
