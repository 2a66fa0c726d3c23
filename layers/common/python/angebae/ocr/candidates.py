"""Product candidates from positioned words: tables with column headers, and catalog blocks.

The extractor works on geometry, not on the reader's block/line ids (text layers list table cells
in odd orders, OCR splits rows into blocks):

1. words -> lines (vertical overlap, chained left to right so slightly rotated scans still work)
   -> cells (runs of words separated by less than a line height);
2. a line with at least two known column labels, one of them a price or amount, is a table header;
   the lines below it are read cell by cell into its columns; a line with a name and a price is a
   row, lines without a price are wrapped names or fragments of the nearest row;
3. everything outside tables is read as blocks: a price line takes its name and SKU from the lines
   just above it (a name may also stand left of the price on the same line).

Totals, taxes, discounts, shipping, payment lines, labels ("Date:"), dates and phone numbers never
become candidates.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from angebae.ocr.money import (
    CODES,
    SYMBOLS,
    decimal_separator,
    document_currency,
    find_currency_token,
    parse_amount,
)
from angebae.ocr.types import Candidate, Page, Word

# Column kinds a header label announces. Keys are normalized (lowercase, no accents, no dots/colons).
HEADER_LABELS = {
    "qty": "cant cantidad cantidades qty quantity quant menge anzahl uds unidades units pcs",
    "sku": "codigo cod sku ref referencia reference code item# articulo art art-nr artnr "
    "artikelnummer part model modelo ean upc",
    "name": "descripcion description desc producto product productos products item items detalle "
    "concepto nombre name beschreibung bezeichnung artikel",
    "price": "precio price unit-price unitprice preciounitario precio-unitario p-unit punit pu p/u "
    "rate pvp cost unit-cost unitario nettopreis preis einzelpreis valor-unitario",
    "amount": "importe amount total line-total subtotal monto betrag nettobetrag gesamtpreis "
    "ext-price extended valor",
    "other": "iva vat tax taxes impuesto bonif bonificacion dto disc disc% discount descuento unid "
    "unidad unit um u/m pos # no nro steuersatz mwst",
}
_HEADER_WORDS = {word: kind for kind, words in HEADER_LABELS.items() for word in words.split()}
# Two-word labels read as one ("Unit price", "P. Unit", "Item #").
_HEADER_PHRASES = {
    "unit price": "price",
    "p unitario": "price",
    "precio u": "price",
    "price each": "price",
    "unit cost": "price",
    "p unit": "price",
    "precio unitario": "price",
    "precio unit": "price",
    "valor unitario": "price",
    "line total": "amount",
    "importe total": "amount",
    "item #": "sku",
    "item no": "sku",
    "part no": "sku",
    "part number": "sku",
    "product code": "sku",
    "cod art": "sku",
}

# Lines naming these are never products (matched on whole words, accents removed).
EXCLUDE_WORDS = set(
    """total totales totals subtotal sub-total suma tax taxes iva vat impuesto impuestos igic irpf
    percepcion retencion descuento descuentos discount discounts bonificacion bonif rebate
    shipping envio envios flete freight porte portes delivery entrega
    pagina page hoja fecha date vencimiento due telefono tel tlf phone fax email e-mail cuit cif nif
    rfc iban swift bic tarjeta tarj card visa mastercard efectivo cash cambio change payment pago
    saldo balance importe amount gegeben zahlbetrag netto neto brutto skonto uhr base""".split()
)
# German compounds carry these inside longer words (Umsatzsteuer, Rechnungssumme, Gesamtbetrag).
EXCLUDE_STEMS = re.compile(r"summe$|^steuer|steuer$|^gesamt|mwst")
UNIT_WORDS = set("u un und uds unid units unit pcs pc pz stk st kg g gr l lt ml cm m lb lbs oz x ea".split())
SKU_LABELS = re.compile(
    r"^(?:sku|ref|referencia|reference|cod|codigo|code|art|item|artikel|art-?nr|modelo|model|part)"
    r"\s*(?:no|nr|n|#)?\s*[.:#]*$",
    re.IGNORECASE,
)
PRICE_LABELS = re.compile(r"^(?:precio|price|pvp|p\.?v\.?p|preis|our price|sale|oferta)\b", re.IGNORECASE)
CODE_RE = re.compile(r"^(?=.*\d)[A-Z0-9][A-Z0-9_./-]{2,}[A-Z0-9]$")
DATE_RE = re.compile(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}|\d{1,2}:\d{2}")
# Digit groups split by spaces, dashes or brackets; a bare run of digits is a code (EAN), not a phone.
PHONE_RE = re.compile(r"(?:\+\d{1,3}[ -]?)?\(?\d{2,5}\)?[ -]\d{3,4}[ -]?\d{2,4}(?:-\d{1,2})?(?![\d.,])")
PAGE_RE = re.compile(
    r"^(?:(?:pag|pagina|page|hoja|seite|p)\.?:?\s*\d+(?:\s*(?:de|of|/|von)\s*\d+)?|\d+\s*(?:de|of|/|von)\s*\d+)$"
)
# Country cues for documents that print "$" or nothing at all.
COUNTRY_CURRENCY = {"cuit": "ARS", "afip": "ARS", "cfdi": "MXN", "rfc": "MXN", "rut": "CLP"}
DOLLAR_LIKE = {"USD", "ARS", "MXN", "CLP", "COP", "UYU", "CAD", "AUD"}
MAX_NAME_LINES = 3
# Outside tables, words further apart than this many line heights belong to different blocks.
BLOCK_GAP = 2.5


# --------------------------------------------------------------------------- geometry


@dataclass
class Cell:
    words: list[Word]

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class Line:
    words: list[Word]
    cells: list[Cell] = field(default_factory=list)

    @property
    def y0(self) -> float:
        return statistics.median(w.y0 for w in self.words)

    @property
    def y1(self) -> float:
        return statistics.median(w.y1 for w in self.words)

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1e-6)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def group_lines(words: list[Word]) -> list[Line]:
    """Words -> lines by vertical position, chaining each word to the line of its left neighbour."""
    lines: list[Line] = []
    for word in sorted(words, key=lambda w: (w.x0, w.y0)):
        if not word.text.strip():
            continue
        best, best_dy = None, None
        cy, h = (word.y0 + word.y1) / 2, word.y1 - word.y0
        for line in lines:
            last = line.words[-1]
            dy = abs((last.y0 + last.y1) / 2 - cy)
            limit = 0.5 * min(h, last.y1 - last.y0)
            if dy <= limit and last.x0 <= word.x0 and (best_dy is None or dy < best_dy):
                best, best_dy = line, dy
        if best is None:
            lines.append(Line([word]))
        else:
            best.words.append(word)
    for line in lines:
        line.cells = split_cells(line)
    return sorted(lines, key=lambda ln: (ln.y0 + ln.y1) / 2)


def split_cells(line: Line) -> list[Cell]:
    """Runs of words whose gaps are smaller than ~0.8 line heights (a column gap is wider)."""
    gap_limit = 0.8 * line.height
    cells = [Cell([line.words[0]])]
    for prev, word in zip(line.words, line.words[1:], strict=False):
        if word.x0 - prev.x1 > gap_limit:
            cells.append(Cell([word]))
        else:
            cells[-1].words.append(word)
    return cells


# --------------------------------------------------------------------------- text helpers


def fold(text: str) -> str:
    """Lowercase without accents."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_excluded(text: str) -> bool:
    """Does a line speak of totals, taxes, discounts, shipping, payment, dates or page numbers?"""
    folded = fold(text)
    tokens = _words(folded)
    if any(t in EXCLUDE_WORDS or t.strip("-") in EXCLUDE_WORDS for t in tokens):
        return True
    if any(EXCLUDE_STEMS.search(t) for t in tokens):
        return True
    return PAGE_RE.match(folded.strip()) is not None


def _words(folded: str) -> list[str]:
    """Alphabetic words, leaving out the letters of codes ("RFC80739", "ARS-68465" are no cues)."""
    return re.findall(r"(?<![\d-])[a-z][a-z-]*(?![a-z-])(?!\d{2})", folded)


def is_section_heading(text: str) -> bool:
    """'--- Food products ---', '== Section ==': a heading that separates rows."""
    stripped = text.strip()
    return (
        len(stripped) > 2
        and not stripped[0].isalnum()
        and not stripped[-1].isalnum()
        and any(c.isalpha() for c in stripped)
    )


def is_label(text: str) -> bool:
    """'Date: 03/14/2026', 'AUT: 017341': key-value text rather than a product name."""
    first = text.strip().split(" ", 1)[0]
    return first.endswith(":") or text.strip().endswith(":")


def clean_name(text: str) -> str:
    text = re.sub(r"\.{3,}|_{3,}|…+", " ", text)
    return " ".join(text.split()).strip(" -–:;,|*")


def has_name_text(text: str) -> bool:
    """At least one word of three letters or more that is not a unit."""
    return any(len(t) >= 3 and t not in UNIT_WORDS for t in re.findall(r"[a-z]+", fold(text)))


def split_code_prefix(name: str) -> tuple[str | None, str]:
    """'[FURN_7777] Office Chair' / '4078500017343 Rake' -> (code, name)."""
    match = re.match(r"^\[([^\]]+)\]\s*(.+)$", name) or re.match(r"^(\d{6,14})\s+(.+)$", name)
    if match:
        return match.group(1), match.group(2)
    return None, name


# --------------------------------------------------------------------------- amounts


@dataclass
class Amount:
    value: Decimal
    currency: str | None
    words: list[Word]
    marked: bool  # printed with a currency
    decimals: int

    @property
    def x0(self) -> float:
        return self.words[0].x0


def find_amounts(words: list[Word], hint: str | None) -> list[Amount]:
    """Amounts printed among `words`, merging a currency standing apart ("USD 59.95", "12,50 €")."""
    out: list[Amount] = []
    i = 0
    while i < len(words):
        amount, used = _amount_at(words, i, hint)
        if amount is not None:
            out.append(amount)
            i += used
        else:
            i += 1
    return out


def _amount_at(words: list[Word], i: int, hint: str | None) -> tuple[Amount | None, int]:
    text = words[i].text.strip().rstrip(",;*")
    nxt = words[i + 1].text.strip() if i + 1 < len(words) else ""
    if _is_currency_only(text) and i + 1 < len(words):
        amount, used = _amount_at(words, i + 1, hint)
        if amount is not None and amount.currency is None:
            currency = find_currency_token(text)
            return Amount(amount.value, currency, [words[i], *amount.words], True, amount.decimals), used + 1
        return None, 1
    if (
        not any(c.isdigit() for c in text)
        or DATE_RE.search(text)
        or text.endswith("%")
        or nxt.startswith("%")
    ):
        return None, 1
    value = parse_amount(text, hint)
    if value is None:
        return None, 1
    currency = find_currency_token(text)
    used_words = [words[i]]
    if currency is None and _is_currency_only(nxt):
        currency = find_currency_token(nxt)
        used_words.append(words[i + 1])
    digits = re.sub(r"\D", "", text)
    if len(digits) > 9 or (digits.startswith("0") and len(digits) > 1 and not re.match(r"^\D*0[.,]", text)):
        return None, 1  # codes, phone numbers, ids
    decimals = _decimals(text, hint)
    return Amount(value, currency, used_words, currency is not None, decimals), len(used_words)


def _is_currency_only(text: str) -> bool:
    text = text.strip("():")
    return text in SYMBOLS or text.upper() in CODES


def _decimals(text: str, hint: str | None) -> int:
    match = re.search(r"[.,](\d+)\D*$", text)
    if not match:
        return 0
    sep = text[match.start()]
    if (
        len(match.group(1)) == 3
        and hint != sep
        and text.count(sep) >= 1
        and not re.search(r"[.,]\d+[.,]", text)
    ):
        return 0 if hint is None or hint != sep else 3
    return len(match.group(1))


def is_price_like(amount: Amount) -> bool:
    """A printed amount that can be a price outside a table: with currency or with 2 decimals."""
    return amount.marked or amount.decimals == 2


# --------------------------------------------------------------------------- document context


@dataclass
class Context:
    hint: str | None
    currency: str | None

    def currency_of(self, amount: Amount | None) -> str | None:
        if amount is None or amount.currency is None:
            return self.currency
        # A bare "$" means the document's own dollar-like currency (ARS, MXN...).
        if amount.currency == "USD" and self.currency in DOLLAR_LIKE and not _says_usd(amount):
            return self.currency
        return amount.currency


def _says_usd(amount: Amount) -> bool:
    return any("USD" in w.text.upper() or "US$" in w.text.upper() for w in amount.words)


def document_context(pages: list[Page], default_currency: str | None) -> Context:
    texts = [w.text for p in pages for w in p.words]
    full = " ".join(texts)
    currency = document_currency(full)
    if currency in (None, "USD"):
        currency = _country_currency(full) or currency
    return Context(decimal_separator(texts), currency or default_currency)


def _country_currency(text: str) -> str | None:
    tokens = set(_words(fold(text)))
    for cue, code in COUNTRY_CURRENCY.items():
        if cue in tokens:
            return code
    return None


# --------------------------------------------------------------------------- tables


@dataclass
class Column:
    kind: str
    x0: float
    x1: float


def header_columns(line: Line) -> list[Column]:
    """Columns a header line announces, or [] when the line is not a table header."""
    columns: list[Column] = []
    unknown = 0
    for cell in line.cells:
        labels = _cell_labels(cell)
        columns.extend(labels)
        unknown += not labels
    kinds = {c.kind for c in columns}
    known = [c for c in columns if c.kind != "other"]
    if len(known) < 2 or not kinds & {"price", "amount"} or not kinds & {"name", "sku", "qty"}:
        return []
    # A sentence that happens to hold label words is no header; one misread label (OCR) is tolerated.
    if unknown > (1 if len(known) >= 3 else 0):
        return []
    return columns


def _cell_labels(cell: Cell) -> list[Column]:
    tokens = [_norm_label(w.text) for w in cell.words]
    out: list[Column] = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and f"{tokens[i]} {tokens[i + 1]}" in _HEADER_PHRASES:
            kind, span = _HEADER_PHRASES[f"{tokens[i]} {tokens[i + 1]}"], 2
        else:
            kind, span = _label_kind(tokens[i]), 1
        if kind is None:
            return []  # every word of a header cell must be a label
        words = cell.words[i : i + span]
        out.append(Column(kind, words[0].x0, words[-1].x1))
        i += span
    return _merge_same_cell(out)


def _merge_same_cell(columns: list[Column]) -> list[Column]:
    """'Unit Price' printed as 'Unit' + 'Price' stays one price column."""
    merged: list[Column] = []
    for col in columns:
        if (
            merged
            and merged[-1].kind == "other"
            and col.kind in ("price", "amount")
            and col.x0 - merged[-1].x1 < 8
        ):
            merged[-1] = Column(col.kind, merged[-1].x0, col.x1)
        else:
            merged.append(col)
    return merged


def _norm_label(text: str) -> str:
    folded = fold(text).strip(":()[]")
    folded = folded.replace(".", " ").strip()
    return re.sub(r"\s+", "-", folded) if folded not in ("#",) else folded


def _label_kind(token: str) -> str | None:
    if token in _HEADER_WORDS:
        return _HEADER_WORDS[token]
    if token.replace("-", "") in _HEADER_WORDS:
        return _HEADER_WORDS[token.replace("-", "")]
    if token.startswith("art-nr"):
        return "sku"
    if token in ("%", "disc-%", "desc-%", "dto-%"):
        return "other"
    return None


@dataclass
class Row:
    lines: list[Line]
    values: dict[str, list[Cell]]
    anchored: bool = False

    def first(self, kind: str) -> list[Cell]:
        return self.values.get(kind, [])


def assign_cells(line: Line, columns: list[Column]) -> dict[str, list[Cell]]:
    """Each cell goes to the header it overlaps most, else the nearest one."""
    out: dict[str, list[Cell]] = {}
    has_qty = any(c.kind == "qty" for c in columns)
    for cell in line.cells:
        for part in _split_wide_cell(cell, columns):
            kind = _nearest_column(part, columns).kind
            if not has_qty and re.fullmatch(r"\d{1,4}", part.text) and not _overlaps_any(part, columns):
                kind = "qty"  # a bare count left of the table, as receipts print it
            out.setdefault(kind, []).append(part)
    return out


def _split_wide_cell(cell: Cell, columns: list[Column]) -> list[Cell]:
    """A cell overlapping several numeric headers is split word by word."""
    hit = [c for c in columns if _overlap(cell.x0, cell.x1, c) > 0]
    numeric = [c for c in hit if c.kind not in ("name",)]
    if len(hit) <= 1 or len(numeric) < 2 or len(cell.words) == 1:
        return [cell]
    return [Cell([w]) for w in cell.words]


def _overlap(x0: float, x1: float, col: Column) -> float:
    return min(x1, col.x1) - max(x0, col.x0)


def _overlaps_any(cell: Cell, columns: list[Column]) -> bool:
    return any(_overlap(cell.x0, cell.x1, c) > 0 for c in columns)


def _nearest_column(cell: Cell, columns: list[Column]) -> Column:
    def distance(col: Column) -> tuple[int, float, float]:
        overlap = _overlap(cell.x0, cell.x1, col)
        center = abs((cell.x0 + cell.x1) / 2 - (col.x0 + col.x1) / 2)
        return (0 if overlap > 0 else 1, -overlap, center)

    return min(columns, key=distance)


def read_tables(page: Page, lines: list[Line], ctx: Context) -> tuple[list[Candidate], set[int]]:
    """Candidates from every header-led table on a page, and the ids of the lines they used."""
    candidates: list[Candidate] = []
    used: set[int] = set()
    headers = [(i, cols) for i, line in enumerate(lines) if (cols := header_columns(line))]
    for n, (start, columns) in enumerate(headers):
        end = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
        body = lines[start + 1 : end]
        used.update(id(line) for line in lines[start:end])
        candidates.extend(_table_candidates(page, body, _resolve_text_columns(body, columns), ctx))
    return candidates, used


def _resolve_text_columns(body: list[Line], columns: list[Column]) -> list[Column]:
    """Header words are ambiguous: "Artículo", "Item" or "Producto" head the codes in one table and
    the descriptions in another. The text column whose cells hold words is the name; other
    name-labelled columns holding codes are SKUs."""
    text_cols = [c for c in columns if c.kind in ("name", "sku")]
    if not text_cols:
        return columns
    wordy = {id(c): 0 for c in text_cols}
    codes = {id(c): 0 for c in text_cols}
    for line in body[:40]:
        for cell in line.cells:
            col = _nearest_column(cell, columns)
            if id(col) not in wordy:
                continue
            if _is_code(cell.text):
                codes[id(col)] += 1
            elif has_name_text(cell.text) and not is_excluded(cell.text):
                wordy[id(col)] += 1
    best = max(text_cols, key=lambda c: wordy[id(c)])
    if wordy[id(best)] == 0:
        return columns
    out = []
    for col in columns:
        if col is best:
            col = Column("name", col.x0, col.x1)
        elif col.kind == "name" and codes[id(col)] > wordy[id(col)]:
            col = Column("sku", col.x0, col.x1)
        out.append(col)
    return out


def _is_code(text: str) -> bool:
    token = text.strip()
    return " " not in token and CODE_RE.match(token) is not None


def _table_candidates(page: Page, body: list[Line], columns: list[Column], ctx: Context) -> list[Candidate]:
    integers_ok = _integer_prices_ok(body, columns, ctx)
    rows = _group_rows(body, columns, ctx, integers_ok)
    out = []
    for row in rows:
        cand = _row_candidate(page, row, ctx, integers_ok)
        if cand is not None:
            out.append(cand)
    return out


def _integer_prices_ok(body: list[Line], columns: list[Column], ctx: Context) -> bool:
    """Integer prices count only in tables that print no decimals in their price columns."""
    for line in body:
        values = assign_cells(line, columns)
        for kind in ("price", "amount"):
            for cell in values.get(kind, []):
                if any(a.decimals for a in find_amounts(cell.words, ctx.hint)):
                    return False
    return True


def _money_in(cells: list[Cell], ctx: Context, integers_ok: bool) -> Amount | None:
    for cell in cells:
        for amount in find_amounts(cell.words, ctx.hint):
            if amount.decimals or amount.marked or integers_ok:
                return amount
    return None


def _group_rows(body: list[Line], columns: list[Column], ctx: Context, integers_ok: bool) -> list[Row]:
    """Lines with a name and a price open rows; the other lines join the nearest row."""
    items: list[Row | None] = []  # None marks a boundary (total, tax, heading...)
    for line in body:
        if is_excluded(line.text) or is_section_heading(line.text):
            items.append(None)
            continue
        values = assign_cells(line, columns)
        priced = _money_in(values.get("price", []) + values.get("amount", []), ctx, integers_ok)
        named = has_name_text(" ".join(c.text for c in values.get("name", [])))
        items.append(Row([line], values, anchored=bool(priced and named)))
    _attach_fragments(items)
    return [row for row in items if row is not None and row.anchored]


def _attach_fragments(items: list[Row | None]) -> None:
    """Merge each unanchored line into the closer anchored row (no boundary between them)."""
    for i, row in enumerate(items):
        if row is None or row.anchored:
            continue
        before = _neighbour(items, i, -1)
        after = _neighbour(items, i, +1)
        target = _closer(row, before, after)
        if target is not None:
            target.lines.append(row.lines[0])
            for kind, cells in row.values.items():
                target.values.setdefault(kind, []).extend(cells)


def _neighbour(items: list[Row | None], i: int, step: int) -> Row | None:
    """The nearest anchored row in one direction, stopping at boundaries and large gaps."""
    j, current = i + step, items[i]
    assert current is not None
    while 0 <= j < len(items):
        item = items[j]
        if item is None:
            return None
        gap = _gap(current.lines[0], item.lines[0])
        if gap > 1.6 * current.lines[0].height + _gap_slack(items, i, j):
            return None
        if item.anchored:
            return item
        j += step
    return None


def _gap_slack(items: list[Row | None], i: int, j: int) -> float:
    """Fragments in between chain the distance: allow one line pitch per fragment crossed."""
    lo, hi = sorted((i, j))
    crossed = [items[k] for k in range(lo + 1, hi)]
    return sum(2.0 * r.lines[0].height for r in crossed if r is not None)


def _gap(a: Line, b: Line) -> float:
    return max(b.y0 - a.y1, a.y0 - b.y1, 0.0)


def _closer(row: Row, before: Row | None, after: Row | None) -> Row | None:
    if before is None or after is None:
        return before or after
    gap_before = min(_gap(row.lines[0], ln) for ln in before.lines)
    gap_after = min(_gap(row.lines[0], ln) for ln in after.lines)
    return before if gap_before <= gap_after else after


def _row_candidate(page: Page, row: Row, ctx: Context, integers_ok: bool) -> Candidate | None:
    row.lines.sort(key=lambda ln: ln.y0)
    name_cells = sorted(row.first("name"), key=lambda c: (c.words[0].y0, c.x0))
    name_lines = _cells_by_line(name_cells)
    name = clean_name(" ".join(name_lines[:MAX_NAME_LINES]))
    sku = _first_code(row.first("sku"))
    code, name = split_code_prefix(name)
    sku = sku or code
    if not has_name_text(name) or is_label(name) or is_excluded(name):
        return None
    unit = _money_in(row.first("price"), ctx, integers_ok)
    total = _money_in(row.first("amount"), ctx, integers_ok)
    qty = _quantity(row.first("qty"), ctx)
    price = _unit_price(unit, total, qty)
    if price is None or price <= 0:
        return None
    structure = 1.0 if unit is not None else 0.85
    words = [w for line in row.lines for w in line.words]
    return _candidate(
        page,
        name,
        price,
        ctx.currency_of(unit or total),
        sku,
        qty,
        words,
        structure,
        description=" ".join(name_lines[MAX_NAME_LINES:]),
    )


def _cells_by_line(cells: list[Cell]) -> list[str]:
    lines: list[tuple[float, list[str]]] = []
    for cell in cells:
        y = cell.words[0].y0
        if lines and abs(lines[-1][0] - y) < 0.5 * (cell.words[0].y1 - cell.words[0].y0):
            lines[-1][1].append(cell.text)
        else:
            lines.append((y, [cell.text]))
    return [" ".join(parts) for _, parts in lines]


def _first_code(cells: list[Cell]) -> str | None:
    for cell in cells:
        for word in cell.words:
            text = word.text.strip("[]():,;")
            if len(text) >= 2 and any(c.isalnum() for c in text) and not SKU_LABELS.match(text):
                return text
    return None


def _quantity(cells: list[Cell], ctx: Context) -> Decimal | None:
    for cell in cells:
        for amount in find_amounts(cell.words, ctx.hint):
            if amount.value <= 0:
                return None  # nobody bills zero units: a misread, so the quantity is unknown
            return amount.value.normalize() if amount.value == amount.value.to_integral() else amount.value
    return None


def _unit_price(unit: Amount | None, total: Amount | None, qty: Decimal | None) -> Decimal | None:
    """The unit price column wins; a line total alone is divided by the quantity."""
    if unit is not None:
        return unit.value
    if total is None:
        return None
    if qty and qty > 0 and qty != 1:
        per_unit = total.value / qty
        return (
            per_unit.quantize(Decimal("0.01"))
            if per_unit == per_unit.quantize(Decimal("0.01"))
            else total.value
        )
    return total.value


# --------------------------------------------------------------------------- blocks


@dataclass
class Segment:
    """One cell outside any table, classified."""

    cell: Cell
    line: Line
    kind: str  # "price", "sku", "text", "stop", "other"
    amount: Amount | None = None
    # Horizontal extent of the block a price belongs to: its whole line when the line holds one
    # price (price lists, receipts), the price's own cell in a grid of several blocks per row.
    span: tuple[float, float] = (0.0, 0.0)


def read_blocks(
    page: Page, lines: list[Line], ctx: Context, carried: list[Segment]
) -> tuple[list[Candidate], list[Segment]]:
    """Candidates from catalog blocks; returns the trailing name lines for the next page."""
    rows = [[_classify(cell, line, ctx) for cell in _block_cells(line)] for line in lines]
    # A grid (several priced blocks side by side) gives each price its own column; elsewhere a
    # price owns its whole line, so a name far left of it is still its name (price lists).
    grid = any(sum(seg.kind == "price" for seg in row) >= 2 for row in rows)
    if grid:  # a long name may run close to the next column: cut lines where the columns start
        starts = _grid_starts(rows)
        rows = [
            [_classify(cell, line, ctx) for cell in _cut_at(_block_cells(line), starts, line)]
            for line in lines
        ]
    segments = []
    for row, line in zip(rows, lines, strict=True):
        for seg in row:
            if seg.kind == "price":
                seg.span = (seg.cell.x0, seg.cell.x1) if grid else (line.x0, line.x1)
        segments.extend(row)
    candidates = []
    pending: list[Segment] = []
    taken: set[int] = set()  # SKUs printed below a price, already given to it
    for i, seg in enumerate(segments):
        if id(seg) in taken:
            continue
        if seg.kind != "price":
            pending.append(seg)
            continue
        below = _sku_below(seg, segments[i + 1 :]) if not _has_sku_above(seg, pending) else None
        if below is not None:
            taken.add(id(below))
        cand = _block_candidate(page, seg, pending, below, ctx, carried)
        carried = []
        if cand is not None:
            candidates.append(cand)
        # What stood above this price in its column is used up; other columns keep theirs.
        pending = [s for s in pending if not _same_column(s.cell, seg.span)]
    tail = [s for s in pending if s.kind in ("text", "sku")]
    return candidates, tail


def _block_cells(line: Line) -> list[Cell]:
    """A line reads as one cell unless its parts stand far apart (multi-column catalogs)."""
    merged = [Cell(list(line.cells[0].words))]
    for cell in line.cells[1:]:
        if cell.x0 - merged[-1].x1 > BLOCK_GAP * line.height:
            merged.append(Cell(list(cell.words)))
        else:
            merged[-1].words.extend(cell.words)
    return merged


def _grid_starts(rows: list[list[Segment]]) -> list[float]:
    """Left edges of a grid's columns: where the prices of lines holding several prices start."""
    return sorted(
        seg.cell.x0
        for row in rows
        if sum(s.kind == "price" for s in row) >= 2
        for seg in row
        if seg.kind == "price"
    )


def _cut_at(cells: list[Cell], starts: list[float], line: Line) -> list[Cell]:
    """Split cells before a word that starts a grid column after a gap wider than a word space."""
    tol, out = 0.3 * line.height, []
    for cell in cells:
        out.append(Cell([cell.words[0]]))
        for prev, word in zip(cell.words, cell.words[1:], strict=False):
            at_start = any(abs(word.x0 - x) <= tol for x in starts)
            if at_start and word.x0 - prev.x1 > 0.5 * line.height:
                out.append(Cell([word]))
            else:
                out[-1].words.append(word)
    return out


def _classify(cell: Cell, line: Line, ctx: Context) -> Segment:
    text = cell.text
    if is_excluded(text) or is_section_heading(text) or (is_label(text) and not _is_known_label(text)):
        return Segment(cell, line, "stop")
    amounts = [a for a in find_amounts(cell.words, ctx.hint) if is_price_like(a)]
    if amounts:
        return Segment(cell, line, "price", _pick_price(amounts))
    if _sku_from(text) is not None:
        return Segment(cell, line, "sku")
    if DATE_RE.search(text) or PHONE_RE.search(text) or not has_name_text(text):
        return Segment(cell, line, "stop" if DATE_RE.search(text) or PHONE_RE.search(text) else "other")
    return Segment(cell, line, "text")


def _is_known_label(text: str) -> bool:
    first = fold(text).strip().split(":", 1)[0].strip()
    return bool(SKU_LABELS.match(first) or PRICE_LABELS.match(first))


def _pick_price(amounts: list[Amount]) -> Amount:
    """With quantity, unit price and line total on one line, the unit price is the price."""
    if len(amounts) >= 3:
        for a, b, c in zip(amounts, amounts[1:], amounts[2:], strict=False):
            if a.value * b.value == c.value:
                return b
    return amounts[0]


def _sku_from(text: str) -> str | None:
    """'SKU: AB-123', 'Ref.: X9', or a lone code such as 'CM-79048'."""
    match = re.match(r"^\s*([A-Za-zÓó.\- #]{2,14}?)\s*[:#]\s*(\S+)\s*$", text)
    if match and SKU_LABELS.match(fold(match.group(1)).strip()):
        return match.group(2)
    parts = text.strip().rsplit(None, 1)  # "Art. LS-648", "SKU AB12", "Item # 55-01": no colon
    if len(parts) == 2 and SKU_LABELS.match(fold(parts[0])) and any(c.isdigit() for c in parts[1]):
        return parts[1]
    token = text.strip()
    if " " not in token and CODE_RE.match(token) and re.search(r"[A-Z]", token) and not DATE_RE.search(token):
        return token
    return None


def _block_candidate(
    page: Page,
    seg: Segment,
    pending: list[Segment],
    below: Segment | None,
    ctx: Context,
    carried: list[Segment],
) -> Candidate | None:
    amount = seg.amount
    assert amount is not None
    inline = _inline_name(seg, pending)
    near = _nearby(seg, pending)
    if not inline and not any(s.kind == "text" for s in near):
        # The block started at the foot of the previous page.
        near = [s for s in carried[-MAX_NAME_LINES:] if s.kind == "text"] + near
    sku_text = next((s.cell.text for s in near if s.kind == "sku"), None)
    if sku_text is None and below is not None:
        sku_text = below.cell.text
    name_lines = [s.cell.text for s in near if s.kind == "text"]
    if inline:
        name_lines = [inline]
    name = clean_name(" ".join(name_lines[-MAX_NAME_LINES:]))
    code, name = split_code_prefix(name)
    if not has_name_text(name) or is_label(name) or is_excluded(name) or amount.value <= 0:
        return None
    sku = _sku_from(sku_text) if sku_text else code
    qty = _inline_qty(seg, ctx)
    words = [w for s in [*near, seg] for w in s.cell.words]
    structure = 0.9 if (sku or not inline) else 0.75
    return _candidate(page, name, amount.value, ctx.currency_of(amount), sku, qty, words, structure)


def _has_sku_above(seg: Segment, pending: list[Segment]) -> bool:
    return any(s.kind == "sku" for s in _nearby(seg, pending))


def _sku_below(seg: Segment, after: list[Segment]) -> Segment | None:
    """A reference printed right under the price, closer to it than to whatever follows it (else
    it heads the next block)."""
    column = [s for s in after if s.line.y0 > seg.line.y0 and _same_column(s.cell, seg.span)]
    if not column or column[0].kind != "sku":
        return None
    sku = column[0]
    gap = _gap(seg.line, sku.line)
    if gap >= 1.2 * seg.line.height:
        return None
    nxt = next((s for s in column[1:] if s.line is not sku.line), None)
    return sku if nxt is None or _gap(sku.line, nxt.line) > gap + 0.5 else None


def _inline_name(seg: Segment, pending: list[Segment]) -> str | None:
    """Text left of the price on its own line, unless it is only a label or a quantity."""
    amount = seg.amount
    assert amount is not None
    left_cells = [
        p.cell for p in pending if p.line is seg.line and p.kind == "text" and _same_column(p.cell, seg.span)
    ]
    words = [w for c in left_cells for w in c.words]
    words += [w for w in seg.cell.words if w.x1 <= amount.words[0].x0 + 0.1 and w not in amount.words]
    text = " ".join(w.text for w in words)
    text = PRICE_LABELS.sub("", text.strip()).strip(" :")
    text = re.sub(r"^\d+(?:[.,]\d+)?\s*(?:x\s*)?", "", text)
    return text if has_name_text(text) and not SKU_LABELS.match(text) else None


def _inline_qty(seg: Segment, ctx: Context) -> Decimal | None:
    match = re.match(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:x\b|[A-Za-z]{1,5}\b)", seg.cell.text)
    if match and fold(seg.cell.text[match.end(1) :].strip().split(" ")[0].rstrip(".")) in UNIT_WORDS | {"x"}:
        return parse_amount(match.group(1), ctx.hint)
    return None


def _same_column(cell: Cell, span: tuple[float, float]) -> bool:
    return cell.x1 >= span[0] and cell.x0 <= span[1]


def _nearby(seg: Segment, pending: list[Segment]) -> list[Segment]:
    """Pending segments stacked right above the price, overlapping it horizontally."""
    out: list[Segment] = []
    lower = seg.line
    for cand in reversed(pending):
        if cand.line is seg.line or cand.kind == "other" or not _same_column(cand.cell, seg.span):
            continue  # specks and stray digits say nothing about the block
        if cand.kind == "stop":
            break
        if _gap(cand.line, lower) > 1.3 * max(cand.line.height, lower.height) and cand.line.y0 < lower.y0:
            break
        if cand.line.y0 < lower.y0 and cand.line.height > 1.3 * seg.line.height:
            break  # a title in a bigger font
        out.insert(0, cand)
        lower = cand.line if cand.line.y0 < lower.y0 else lower
        if sum(1 for s in out if s.kind == "text") >= MAX_NAME_LINES:
            break
    return [s for s in out if s.kind in ("text", "sku")]


# --------------------------------------------------------------------------- assembly


def _candidate(
    page: Page,
    name: str,
    price: Decimal,
    currency: str | None,
    sku: str | None,
    qty: Decimal | None,
    words: list[Word],
    structure: float,
    description: str = "",
) -> Candidate:
    ocr = sum(w.confidence for w in words) / len(words) if words else 0.0
    attributes = {"description": description} if description else {}
    return Candidate(
        name=name,
        price=price,
        currency=currency,
        sku=sku,
        qty=qty,
        page=page.number,
        bbox=(
            min(w.x0 for w in words),
            min(w.y0 for w in words),
            max(w.x1 for w in words),
            max(w.y1 for w in words),
        ),
        confidence=round(max(0.0, min(1.0, ocr * structure)), 3),
        raw=" | ".join(dict.fromkeys(w.text for w in words)),
        attributes=attributes,
    )


def extract_candidates(pages: list[Page], *, default_currency: str | None = None) -> list[Candidate]:
    """Product candidates (name, unit price, currency, SKU, quantity) of a document's pages."""
    ctx = document_context(pages, default_currency)
    out: list[Candidate] = []
    carried: list[Segment] = []
    for page in pages:
        lines = group_lines(page.words)
        table_candidates, used = read_tables(page, lines, ctx)
        out.extend(table_candidates)
        free = [line for line in lines if id(line) not in used]
        block_candidates, carried = read_blocks(page, free, ctx, carried)
        out.extend(block_candidates)
    return out
