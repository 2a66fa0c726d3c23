"""From document bytes to pages of words: the text layer where a page has one, parallel OCR elsewhere.

Every page is read in a worker process (OCR with one Tesseract thread each, OMP_THREAD_LIMIT=1),
started with fork and talking over pipes: Lambda has no /dev/shm, so multiprocessing.Pool and Queue
cannot be used there. Each worker opens the document itself and reads one page at a time (its text
layer, else the page rendered and OCR'd), so no process ever holds more than one page. A page
photographed or scanned sideways or upside down is OCR'd upright (angebae.ocr.engine.ocr_upright):
its Page's size and words describe it as meant to be read. Pages are yielded as they finish (not in
page order) for the caller to store them at once and resume later with `skip_pages`.

A text layer costs little to send and can cost without bound to read (a few KB of content inflating
to millions of glyphs, forms drawing forms), so it is bounded like OCR: the content the pages decode
to is counted before any is read; a page whose content is small and draws no forms (most invoices)
is read right here, bounded by that count; any other goes to the pool, where a worker whose page
outlives its time (the text timeout, then the OCR one) or grows past its memory limit is killed,
ending the document with DocumentError "page_too_complex" (or "ocr_timeout" for Tesseract).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import wait

from angebae.ocr.document import DEFAULT_LIMITS, PDF, DocumentError, Limits, open_document
from angebae.ocr.types import Candidate, Page

_POLL_SECONDS = 0.05  # how often a busy worker's memory is looked at
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


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
    on_open: Callable[[int], None] | None = None,
    engine: str | None = None,
    psm: int | None = None,
) -> Iterator[Page]:
    """Yields each requested page (1-based `pages`, default all, minus `skip_pages`) as it is read.

    `on_open(page_count)` is called once the document is open and checked, before any page is read
    (so a caller that needs the count, for progress or a job's total, does not open it a second time).

    The checks that need no page to be read (type, size, encryption, page count, the content the
    pages decode to) run before the first page is; each page's pixel count before it is rendered,
    the OCR languages before the first page is OCR'd. `workers=0` uses every CPU.
    `engine` is "tesserocr" or "pytesseract" (default: see angebae.ocr.engine.get_engine).
    Raises DocumentError.
    """
    doc = open_document(data, declared_type, limits)
    try:
        if on_open is not None:
            on_open(doc.page_count)
        numbers = _select_pages(doc.page_count, pages, skip_pages)
        light = doc.check_content(numbers)
        rest = []
        for number in numbers:  # light text layers here; OCR and heavy content in the pool
            page = _light_text_page(doc, number) if number in light else None
            if page is None:
                rest.append(number)
            else:
                yield _deliver(page, on_page)
    finally:
        doc.close()
    if not rest:
        return
    psm = psm if psm is not None else page_segmentation(doc.mime)
    pool = _PagePool(data, doc.mime, languages, limits, workers, engine, psm)
    try:
        pool.submit(rest)
        for page in pool.results():
            yield _deliver(page, on_page)
    finally:
        pool.close()


def _light_text_page(doc, number: int) -> Page | None:
    """The page from its text layer, read here (check_content bounded it); None when it has none."""
    started = time.perf_counter()
    words = doc.text_words(number)
    if words is None:
        return None
    width, height = doc.page_size(number)
    return Page(number, width, height, words, "text", time.perf_counter() - started)


def page_segmentation(mime: str) -> int:
    """Tesseract's page segmentation mode by the kind of input, as measured on the real samples:
    camera images (receipts, one column) read best as one block (6); rendered PDF pages, with
    addresses side by side and dot leaders, with automatic segmentation (3)."""
    return 3 if mime == PDF else 6


# product_candidates' numeric(14, 4): a price or quantity this large is a misread, never a product's.
_MAX_NUMERIC = Decimal(10) ** 10


@dataclass
class Reading:
    """What a read document gives, to the worker and to `angebae ocr` alike: where the candidates
    come from ("xml": an embedded e-invoice; "layout": the pages' words), the candidates, and the
    warnings (a layout page that prints prices but gave no candidate)."""

    source: str
    candidates: list[Candidate]
    warnings: list[dict] = field(default_factory=list)


def candidates_of(data: bytes, pages: list[Page], *, default_currency: str | None = None) -> Reading:
    """The one composition of the stages after reading: e-invoice or layout candidates (see
    choose_candidates), those a catalog can hold (amounts within numeric(14, 4), a currency that is
    an ISO 4217 code or none), and the page warnings. `pages` in page order."""
    from angebae.ocr.warnings import job_warnings

    source, found = choose_candidates(data, pages, default_currency=default_currency)
    candidates = [c for c in found if all(v is None or abs(v) < _MAX_NUMERIC for v in (c.price, c.qty))]
    for c in candidates:
        if c.currency is not None and len(c.currency) != 3:
            c.currency = None
    return Reading(source, candidates, job_warnings(source, pages, (c.page for c in candidates)))


def run_document(
    data: bytes, *, default_currency: str | None = None, known_pages: Iterable[Page] = (), **options
) -> dict:
    """Reads the document (options as read_document) and extracts its candidates (candidates_of):
    {"pages": how many, "source", "candidates": as JSON, "warnings"}.

    `known_pages` are pages stored by an earlier, interrupted attempt (pass their numbers in
    `skip_pages`): candidates come from all pages together.
    """
    pages = list(known_pages) + list(read_document(data, **options))
    pages.sort(key=lambda p: p.number)
    reading = candidates_of(data, pages, default_currency=default_currency)
    return {
        "pages": len(pages),
        "source": reading.source,
        "candidates": [c.to_json() for c in reading.candidates],
        "warnings": reading.warnings,
    }


def choose_candidates(
    data: bytes, pages: list[Page], *, default_currency: str | None = None
) -> tuple[str, list[Candidate]]:
    """("xml", the embedded e-invoice's items) when the document carries one, else ("layout", the
    candidates read from the pages' words)."""
    from angebae.ocr.einvoice import read_einvoice
    from angebae.ocr.extract import extract_candidates

    exact = read_einvoice(data)
    read = extract_candidates(pages, default_currency=default_currency)
    if exact is None:
        return "layout", read
    _place_on_pages(exact, read)
    return "xml", exact


def _place_on_pages(exact: list[Candidate], read: list[Candidate]) -> None:
    """An e-invoice's items where the page prints them: the page and row box of the layout reader's
    candidate with the same price to the cent and a matching name, one to one (a reviewer sees the
    row beside the item); an item the page does not show keeps page 1 and an empty box."""
    from angebae.ocr.scoring import match_strength

    pairs = sorted(
        (
            (strength, i, j)
            for i, item in enumerate(exact)
            for j, cand in enumerate(read)
            if (strength := match_strength(cand.to_json(), item.to_json())) is not None
        ),
        reverse=True,
    )
    items_placed: set[int] = set()
    rows_taken: set[int] = set()
    for _, i, j in pairs:
        if i not in items_placed and j not in rows_taken:
            exact[i].page, exact[i].bbox = read[j].page, read[j].bbox
            items_placed.add(i)
            rows_taken.add(j)


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


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _deadline_seconds(limits: Limits) -> float:
    """Tesseract gets the page timeout itself; the hard kill adds room for model load and render."""
    return limits.page_timeout_seconds + max(1.0, limits.page_timeout_seconds * 0.25)


def _die_with_parent() -> None:
    """A page process ends when the function process that forked it dies, whoever kills it. Lambda
    ends the whole sandbox; an engine without one (MiniStack runs functions as plain processes) would
    leave it waiting for its next page forever: it holds the pipe's other end itself, so no EOF
    comes. Linux's PR_SET_PDEATHSIG; elsewhere nothing (the pool still stops its workers)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the signal was armed
        os._exit(1)


def _worker_main(conn, data: bytes, mime: str, languages: str, limits: Limits, engine: str | None, psm: int):
    """Worker loop: receive a page number; send ("stage", "ocr") when the page goes to OCR, then
    ("page", Page) or ("error", DocumentError); None stops."""
    _die_with_parent()
    doc = ocr = None
    while (number := conn.recv()) is not None:
        started = time.perf_counter()
        try:
            doc = doc or open_document(data, mime, limits)  # its errors are the page's: inside the try
            words = doc.text_words(number)
            if words is not None:
                width, height = doc.page_size(number)
                conn.send(("page", Page(number, width, height, words, "text", time.perf_counter() - started)))
                continue
            dpi = doc.render_dpi(number)  # the pixel guard, before anything is rendered
            conn.send(("stage", "ocr"))
            ocr = ocr or _engine(languages, engine)
            conn.send(("page", _ocr_page(doc, ocr, number, dpi, languages, limits, psm, started)))
        except DocumentError as exc:
            conn.send(("error", exc))
        except Exception as exc:
            conn.send(
                ("error", DocumentError("ocr_failed", f"page {number}: {type(exc).__name__}: {exc}", number))
            )


def _engine(languages: str, engine: str | None):
    from angebae.ocr.engine import check_languages, get_engine

    check_languages(languages, engine)
    return get_engine(engine)


def _ocr_page(
    doc, ocr, number: int, dpi: float, languages: str, limits: Limits, psm: int, started: float
) -> Page:
    from angebae.ocr.engine import ocr_upright

    image = doc.render(number, dpi)
    read = ocr_upright(ocr, image, languages, limits.page_timeout_seconds, psm)
    del image
    width, height = doc.page_size(number)
    if read.rotation in (90, 270):  # the Page describes the page upright, as its words do
        width, height = height, width
    return Page(number, width, height, read.words, "ocr", time.perf_counter() - started)


def _resident_bytes(pid: int) -> int | None:
    """The process's resident memory (Linux /proc; None elsewhere: no memory bound there)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


class _Worker:
    def __init__(self, ctx, args: tuple):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.page: int | None = None
        self.stage = "text"
        self.deadline = 0.0
        self.memory_base: int | None = None  # its resident memory when the page was handed to it

    def assign(self, number: int, seconds: float) -> None:
        self.page, self.stage = number, "text"
        self.deadline = time.monotonic() + seconds
        self.memory_base = _resident_bytes(self.process.pid)
        self.conn.send(number)

    def growth(self) -> int:
        """How much the worker's memory grew since its page was handed to it."""
        now = _resident_bytes(self.process.pid)
        return 0 if now is None or self.memory_base is None else now - self.memory_base

    def receive(self, ocr_seconds: float) -> Page | None:
        """The page when it is done; None when the message only said the page went to OCR."""
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            code = self.process.exitcode
            raise DocumentError(
                "ocr_failed", f"the OCR worker died on page {self.page} (exit code {code})", self.page
            ) from None
        if kind == "stage":
            self.stage, self.deadline = value, time.monotonic() + ocr_seconds
            return None
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


class _PagePool:
    """Worker processes fed one page at a time; a page past its time or memory kills the whole pool."""

    def __init__(self, data, mime, languages, limits: Limits, workers, engine, psm):
        self._args = (data, mime, languages, limits, engine, psm)
        self._size = workers if workers > 0 else _cpu_count()
        self._ocr_deadline = _deadline_seconds(limits)
        self._limits = limits
        self._pending: deque[int] = deque()
        self._workers: list[_Worker] = []

    def submit(self, numbers: list[int]) -> None:
        self._pending.extend(numbers)
        ctx = multiprocessing.get_context("fork")
        while len(self._workers) < min(self._size, len(self._pending)):
            self._workers.append(_Worker(ctx, self._args))
        self._dispatch()

    def _dispatch(self) -> None:
        for worker in self._workers:
            if worker.page is None and self._pending:
                worker.assign(self._pending.popleft(), self._limits.text_timeout_seconds)

    def results(self) -> Iterator[Page]:
        while busy := [w for w in self._workers if w.page is not None]:
            wait_for = min(min(w.deadline for w in busy) - time.monotonic(), _POLL_SECONDS)
            ready = wait([w.conn for w in busy], timeout=max(0.0, wait_for))
            for worker in busy:
                if worker.conn in ready and (page := worker.receive(self._ocr_deadline)) is not None:
                    self._dispatch()
                    yield page
            self._check(busy)

    def _check(self, busy: list[_Worker]) -> None:
        """DocumentError for a page past its memory or its deadline (with no answer waiting)."""
        limits = self._limits
        for worker in busy:
            if worker.page is None or worker.conn.poll():
                continue
            memory = limits.page_memory_bytes if worker.stage == "ocr" else limits.text_memory_bytes
            if worker.growth() > memory:
                what = "to render and OCR" if worker.stage == "ocr" else "to read its text layer"
                raise DocumentError(
                    "page_too_complex",
                    f"page {worker.page} needs more than {memory // (1024 * 1024)} MiB of memory {what}",
                    worker.page,
                )
            if worker.deadline > time.monotonic():
                continue
            if worker.stage == "ocr":
                raise DocumentError(
                    "ocr_timeout",
                    f"page {worker.page} took longer than {limits.page_timeout_seconds:g} s",
                    worker.page,
                )
            raise DocumentError(
                "page_too_complex",
                f"page {worker.page}'s text layer takes longer than "
                f"{limits.text_timeout_seconds:g} s to read",
                worker.page,
            )

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []
