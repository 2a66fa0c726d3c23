"""Tables read by what they hold, not by their header.

    lines -> rows: a line with money beside a name (a header never has money, so it can never
             become a product), or the shapes real documents give a row: the name on the line
             above ("PLATANO" / "0,560 kg x 7,99 €/kg  4,47"), or below its numbers, or a key on
             the numbers' line and the name just above it
          -> the row's satellites (a line just below with only numbers, a discount under it) and
             its wrapped name lines
          -> columns: the rows' numbers clustered by horizontal overlap
          -> roles: arithmetic picks quantity, unit price and line total (qty x unit = total on
             the most rows); content (integers, measures, money) and header words are the
             fallback, a header word being a weighted hint, never a gate
          -> candidates, whose confidence says how much evidence agreed

Tolerances live in `TableSettings`; sub-point float epsilons and the arithmetic vote weights
(`_vote_weight`) are written where they are used.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from angebae.formats import exponent
from angebae.formats import money as money_text
from angebae.ocr.layout import (
    CODE_RE,
    DATE_RE,
    Amount,
    Context,
    Line,
    Words,
    clean_name,
    has_name_text,
    is_currency_only,
    is_label,
    is_leader,
    is_price_like,
    is_section_heading,
    line_amounts,
    line_gap,
    make_candidate,
    not_product_reason,
    split_code_prefix,
)
from angebae.ocr.types import Candidate, Page, Word
from angebae.ocr.vocabulary import fold, vocabulary


@dataclass(frozen=True)
class TableSettings:
    # A line at most this many line heights below the previous line of a row belongs to the row
    # (wrapped names, a second line of numbers); further down starts something else.
    wrap_gap: float = 0.9
    # A unit stands at most this many line heights after its number (further: the next column's).
    unit_gap: float = 1.0
    # A count this large printed without a unit is an article number, a postcode or an id.
    min_code: int = 10_000
    # A discount line this many line heights under a row (past its wrapped lines) is still its own.
    discount_gap: float = 3.0
    # Name lines a row may take (the anchor line included); more is a description.
    max_name_lines: int = 4
    # qty x unit may differ from the printed line total by this share (rounded unit prices) ...
    arithmetic_share: Decimal = Decimal("0.005")
    # ... or by this absolute amount (cents).
    arithmetic_cents: Decimal = Decimal("0.011")
    # ... or by the quantity times half a cent, when the unit price is printed to the cent.
    unit_rounding: Decimal = Decimal("0.005")
    # Header lines looked at above the first row (headers wrap over two to four lines).
    header_lines: int = 4
    # Confidence of a row by the evidence that set its price.
    confidence_arithmetic: float = 1.0  # qty x unit = total on this row
    confidence_column: float = 0.85  # the column's role was proven on other rows or by its header
    confidence_alone: float = 0.7  # one money amount, nothing else to agree with
    # A name holding a date or a web address ("le-tout-lyon.fr du 06/12/2022") reads like a
    # reference or a heading more often than a product: its row keeps this share.
    dated_name: float = 0.85
    # Rows of a text layer whose line totals add up to no amount printed in the document lose this
    # share: a reconciled table is evidence for every row of it, a stray or missing row breaks it.
    unreconciled: float = 0.9


SETTINGS = TableSettings()
# What set a table row's confidence, as candidates say it (attributes.evidence).
_EVIDENCE = {
    SETTINGS.confidence_arithmetic: "qty x unit = total",
    SETTINGS.confidence_column: "price column",
    SETTINGS.confidence_alone: "line total / qty",
}
_STRUCTURE = {label: confidence for confidence, label in _EVIDENCE.items()}
_MONEY, _COUNT, _MEASURE = "money", "count", "measure"
_DATED_NAME_RE = re.compile(rf"{DATE_RE.pattern}|\b[\w-]+\.(?:com|net|org|[a-z]{{2}})\b|www\.|@\w")
_GTIN_RE = re.compile(r"^\d{8}$|^\d{12,14}$")
_LONG_DIGITS = re.compile(r"^\d{5,14}$")
_TIMES = {"@", "x", "×", "*", "a"}  # "2 @ 3,49", "0,560 kg x 7,99"
_PER_UNIT_RE = re.compile(r"^(?:[€$£]?/[A-Za-z]{1,3}|ea|each|c/u|/u)[,.]?$", re.IGNORECASE)
_REFERENCE_RE = re.compile(r"^[A-Za-z]+-\d+$")
_KEY_RE = re.compile(r"[A-Za-z)]:(?:\S|$)")  # "GLN:598785", "BC:" - a key and its value


@dataclass
class Number(Words):
    amount: Amount
    kind: str  # money, count (an integer), measure (a number with its unit)
    per_unit: bool = False  # "@ 3,49", "x 7,99 €/kg", "6,59/kg": a price for each unit

    @property
    def value(self) -> Decimal:
        return self.amount.value


@dataclass
class Row:
    anchor: Line
    numbers: list[Number]
    name_words: list[Word]
    lines: list[Line] = field(default_factory=list)
    name_lines: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    wordy: bool = False
    complete: bool = False  # its name was read above it: nothing below belongs to it
    discount: Decimal | None = None  # a discount line right under the row (negative)


def is_gtin(text: str) -> bool:
    """8, 12, 13 or 14 digits whose last is the GS1 check digit of the others."""
    if not _GTIN_RE.match(text):
        return False
    digits = [int(c) for c in text]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def is_code(text: str) -> bool:
    """A seller's reference or a barcode: one token of capitals and digits, or a long digit run."""
    token = text.strip("[]():,;*")
    return not DATE_RE.search(token) and bool(CODE_RE.match(token) or _LONG_DIGITS.match(token))


def numbers_on(line: Line, ctx: Context) -> list[Number]:
    """The amounts printed on a line, each typed by its form: money, a count, or a measure."""
    key = ("numbers", ctx.hint, ctx.currency, len(line.words))
    if key not in line.memo:
        line.memo[key] = _numbers_on(line, ctx)
    return list(line.memo[key])


def _numbers_on(line: Line, ctx: Context) -> list[Number]:
    units = vocabulary().units
    out = []
    for amount in line_amounts(line, ctx.hint):
        if len(amount.words) == 1 and _REFERENCE_RE.match(amount.words[0].text):
            continue  # "ARS-6846" is a reference, not minus 6846 pesos
        first, last = line.words.index(amount.words[0]), line.words.index(amount.words[-1])
        before = line.words[first - 1].text.lower() if first else ""
        unit = line.words[last + 1] if last + 1 < len(line.words) else None
        per_unit = before in _TIMES or (unit is not None and _PER_UNIT_RE.match(unit.text) is not None)
        unit_close = unit is not None and unit.x0 - amount.words[-1].x1 <= SETTINGS.unit_gap * line.height
        if unit is not None and unit_close and _unit_word(unit.text) in units and amount.currency is None:
            out.append(Number([*amount.words, unit], amount, _MEASURE))
        elif amount.decimals in (2, 4) or (amount.marked and _whole_prices(amount, ctx)):
            # 3 decimals are a weight or thousands; a marked integer among decimal prices is OCR's
            # misreading ("§4" as "$4")
            out.append(Number(list(amount.words), amount, _MONEY, per_unit))
        elif amount.decimals == 0 and abs(amount.value) >= SETTINGS.min_code:
            continue  # a bare run of five digits or more is an article number, a postcode, an id
        elif amount.decimals == 0:
            out.append(Number(list(amount.words), amount, _COUNT))
        else:
            out.append(Number(list(amount.words), amount, _MEASURE))
    return out


def _whole_prices(amount: Amount, ctx: Context) -> bool:
    """Can a marked integer ('120 €') be a price here? Where the document prints decimals or
    names another currency, it is OCR's misreading ('§4' as '$4')."""
    own = ctx.currency is None or ctx.currency_of(amount) == ctx.currency
    return amount.decimals == 0 and ctx.hint is None and own


def _unit_word(text: str) -> str:
    """'Liter(s)', 'Stk.', 'Unit(s)' -> 'liter', 'stk', 'unit'."""
    return re.sub(r"\(s\)$|[().,:;]", "", fold(text))


def _is_key_value(words: list[Word]) -> bool:
    """'Bruttopreis :170,0000', 'GTIN:', 'GLN:5987854125': a key and its value, no name."""
    return any(w.text.endswith(":") or w.text.startswith(":") or _KEY_RE.search(w.text) for w in words)


def _between_is_wordy(line: Line, numbers: list[Number]) -> bool:
    """Name-like words between the first price and a later one: several blocks side by side, or
    key-value pairs. (A name after the only price is a row that prints its total first.)"""
    used = {id(w) for n in numbers for w in n.words}
    money = [n for n in numbers if n.kind == _MONEY]
    start, end = money[0].x1, money[-1].x0
    words = vocabulary()
    # "12 | 28.90 MXN | 346.80 MXN": a currency code between amounts that multiply out is a row's;
    # between amounts that do not ("23,90 EUR  4.323,90 EUR"), it marks the blocks of a grid
    codes_are_words = not _multiply_out(numbers)
    for word in line.words:
        if id(word) in used or not (start < word.x0 < end):
            continue
        if is_currency_only(word.text):
            if codes_are_words:
                return True
            continue
        letters = re.sub(r"[^a-z]", "", fold(word.text))  # OCR adds stray marks: "Stk!"
        if len(letters) >= 3 and not words.not_product_reason(letters) and letters not in words.units:
            if words.header_kind(letters) is None:
                return True
    return False


def _multiply_out(numbers: list[Number]) -> bool:
    """Some qty x unit = total among the line's numbers (1 x a price too; quantities may be printed
    as money is, "3,00")."""
    money = [(i, n.value) for i, n in enumerate(numbers) if n.kind == _MONEY]
    quantities = [(i, n.value) for i, n in enumerate(numbers)] + [(-1, Decimal(1))]
    return any(
        agrees(q, u, t)
        for qi, q in quantities
        for ui, u in money
        for ti, t in money
        if ui < ti and qi not in (ui, ti)
    )


def anchor_row(line: Line, ctx: Context) -> Row | None:
    """A row when the line prints money after a name; None for headers, totals, notes, labels.

    `Row.wordy` marks words after the first price (a tax code, or the next block of a grid)."""
    numbers = numbers_on(line, ctx)
    money = [n for n in numbers if n.kind == _MONEY]
    if not money or all(_after_label(line, n) for n in money):
        return None
    name_words, codes, in_name = _name_before(line, numbers, money[0].x0)
    price_first = not name_words
    if price_first:  # rows that print a price first ("12,50 | Name", "Total | SKU | Name | Price")
        name_words, codes, in_name = _name_before(line, numbers, float("inf"), after=money[0].x1)
    numbers = [n for n in numbers if n not in in_name]
    # a barcode or reference column after the price ("12,50 | 8412345000003 | 6 | ...")
    used = {id(w) for n in numbers for w in n.words} | {id(w) for w in name_words}
    codes += [
        w.text.strip("[]():,;*")
        for w in line.words
        if id(w) not in used
        and w.x0 > money[0].x0
        and is_code(w.text)
        and w.text.strip("[]():,;*") not in codes
    ]
    name = " ".join(w.text for w in name_words)
    prefix = " ".join(w.text for w in line.words if w.x1 <= money[0].x0 + 0.1)
    if not has_name_text(name) or not_product_reason(f"{prefix} {name}") or is_section_heading(name):
        return None  # "zzgl. Umsatzsteuer | 7% | von 129,37": the whole line says what it is
    keyish = is_label(name) or _only_header_words(name) or any(_KEY_RE.search(w.text) for w in name_words)
    if keyish and (len(numbers) < 3 or not _multiply_out(numbers)):
        # "5,00% sur 100,00", "(BLU): DONT 0,50 EUR", "PVP 12,50": a rate, a key, a label; "Price
        # 474.00  Price 361.50  Price 37.99": a grid's labels. "1 | GTIN: | 9,90 | 20 | 198,00" is
        # a row whose name goes on below: its numbers multiply out
        return None
    # a name after the first price is then this row's own, not the next block of a grid
    wordy = not price_first and _between_is_wordy(line, numbers)
    return Row(line, numbers, name_words, [line], [name], codes, wordy)


def _name_before(line: Line, numbers: list[Number], limit: float, after: float = float("-inf")):
    """The name: the nearest cell with words between `after` and `limit`, with the numbers it holds;
    codes around it come out apart."""
    name_words: list[Word] = []
    codes: list[str] = []
    in_name: list[Number] = []
    for cell in line.cells:
        inside = [w for w in cell.words if after - 0.1 <= w.x0 and w.x1 <= limit + 0.1]
        words = [w for w in inside if not is_currency_only(w.text)]  # "23,90 EUR": EUR names nothing
        kept = _name_numbers(words, numbers, line)
        words = [w for w in words if not _is_number_word(w, numbers) or id(w) in kept]
        cell_name, cell_codes = _split_codes(words)
        codes.extend(cell_codes)
        if has_name_text(" ".join(w.text for w in cell_name)) and not (name_words and after > float("-inf")):
            name_words, in_name = cell_name, [n for n in numbers if id(n.words[0]) in kept]
    return name_words, codes, in_name


def _is_number_word(word: Word, numbers: list[Number]) -> bool:
    return any(word in n.words for n in numbers)


def _name_numbers(words: list[Word], numbers: list[Number], line: Line) -> set[int]:
    """Numbers inside a name ("Garden hose 15 m", "talle 42"): those after its first word, unless
    one ends the cell and its unit stands in the next column ("breit 3,00 | m²" is a quantity)."""
    kept: set[int] = set()
    for n in numbers:
        if n.kind == _MONEY or n.words[0] not in words or words.index(n.words[0]) == 0:
            continue
        ends_cell = n.words[-1] is words[-1] or all(w in n.words for w in words[words.index(n.words[0]) :])
        unit_elsewhere = n.kind == _MEASURE and n.words[-1] not in words
        if not (ends_cell and unit_elsewhere):
            kept.update(id(w) for w in n.words)
    return kept


def _only_header_words(name: str) -> bool:
    words = vocabulary()
    tokens = [t for t in re.findall(r"[a-z]+", fold(name)) if len(t) > 1]
    return bool(tokens) and all(words.header_kind(t) for t in tokens)


def _name_above(above: Line, line: Line, ctx: Context, settings: TableSettings) -> Row | None:
    """Receipts print a weighed item as its name, then "0,560 kg x 7,99 €/kg  4,47" below it;
    invoices a position's name, then its "3 | 5,00 | PCE | 1,00 | 5,00" just below."""
    numbers = numbers_on(line, ctx)
    money = [n for n in numbers if n.kind == _MONEY]
    # A quantity and its amount, or amounts that multiply out; a price alone under a name is a
    # catalog block (blocks.py).
    single = len(money) == 1 or any(n.per_unit for n in money) or _multiply_out(numbers)
    if not single or len(numbers) < 2 or has_name_text(_words_outside(line, numbers)):
        return None
    if numbers_on(above, ctx) or line_gap(above, line) > settings.wrap_gap * max(above.height, line.height):
        return None
    name_words, codes = _split_codes(list(above.words))
    name = " ".join(w.text for w in name_words)
    if not has_name_text(name) or not_product_reason(name) or is_section_heading(name) or is_label(name):
        return None
    if _only_header_words(name):
        return None  # "Qty | Unit price | Total" over the first row's numbers
    return Row(line, numbers, name_words, [above, line], [name], codes, complete=True)


def _name_below(
    line: Line, below: Line, above: Line | None, ctx: Context, settings: TableSettings
) -> Row | None:
    """A row printed as its numbers first and its name on the lines under them ("2  5,5000  50 Stk
    275,00" / "Joghurt" / "Banane"): the name column's text below a line of numbers only. A name
    line right above belongs to it too (a name centred on its numbers)."""
    numbers = numbers_on(line, ctx)
    if not any(n.kind == _MONEY for n in numbers) or len(numbers) < 3:
        return None
    if has_name_text(_words_outside(line, numbers)) or any(n.kind == _MONEY for n in numbers_on(below, ctx)):
        return None
    if line_gap(line, below) > 2 * settings.wrap_gap * max(line.height, below.height):
        return None
    first_money = min(n.x0 for n in numbers if n.kind == _MONEY)
    name_words, codes = _split_codes([w for w in below.words if w.x1 <= first_money])
    name = " ".join(w.text for w in name_words)
    close_above = (
        above
        if above is not None
        and not numbers_on(above, ctx)
        and (line_gap(above, line) <= settings.wrap_gap * max(above.height, line.height))
        else None
    )
    whole = f"{close_above.text} {name}" if close_above is not None else name
    if not has_name_text(name) or not_product_reason(whole) or _is_key_value(name_words):
        return None
    lines = [close_above, line, below] if close_above is not None else [line, below]
    return Row(line, numbers, name_words, lines, [whole], codes)


def _take_name_from_above(row: Row, above: Line, ctx: Context, settings: TableSettings) -> None:
    """A row whose own line names only a key ('GLN:5987854125') under a line that names the
    product ('PRESTATION SUPPORT - Description'), as cells centred on several lines print it."""
    if any(n.kind == _MONEY for n in numbers_on(above, ctx)):
        return
    if line_gap(above, row.anchor) > settings.wrap_gap * max(above.height, row.anchor.height):
        return
    first_money = min(n.x0 for n in row.numbers if n.kind == _MONEY)
    cells = [c for c in above.cells if c.x1 <= first_money and not _is_key_value(c.words)]
    words = [w for c in cells for w in c.words]
    name = " ".join(w.text for w in words)
    if has_name_text(name) and not not_product_reason(name):
        row.name_words, row.name_lines = words, [name]
        row.lines.insert(0, above)


def _words_outside(line: Line, numbers: list[Number]) -> str:
    used = {id(w) for n in numbers for w in n.words}
    return " ".join(w.text for w in line.words if id(w) not in used)


def _after_label(line: Line, number: Number) -> bool:
    """'Bruttopreis : 4,00', 'Price: $11.49': the value of a key, not a column of a row."""
    index = line.words.index(number.words[0])
    if index == 0:
        return False
    key = line.words[index - 1].text
    # ":" alone, or a word of letters before it ("T9:" is OCR's "19 %", no key)
    return key.endswith(":") and (key == ":" or len(re.sub(r"[^A-Za-z]", "", fold(key))) >= 3 or index > 1)


def _split_codes(words: list[Word]) -> tuple[list[Word], list[str]]:
    """The codes around a name ("FURN_7777", "4012345001235") are not the name; nor are leaders."""
    name: list[Word] = []
    codes: list[str] = []
    for word in words:
        if is_leader(word.text):
            continue
        text = word.text.strip("[]():,;")
        if is_code(text) and not has_name_text(text):
            codes.append(text)
        elif is_code(text) and not name:
            codes.append(text)  # "FURN_7777" before the name
        else:
            name.append(word)
    return name, codes


def read_table(page: Page, lines: list[Line], ctx: Context, settings: TableSettings = SETTINGS) -> TableRead:
    """Candidates from the rows of a page; the ids of the lines they used; the rows' vertical span;
    the last row when its name may go on on the next page."""
    rows: list[Row] = []
    owner: dict[int, Row] = {}
    for index, line in enumerate(lines):
        row = anchor_row(line, ctx)
        if row is None and index and index - 1 not in owner:
            row = _name_above(lines[index - 1], line, ctx, settings)
        if row is None and index + 1 < len(lines):
            above = lines[index - 1] if index and index - 1 not in owner else None
            row = _name_below(line, lines[index + 1], above, ctx, settings)
        if row is not None and index and index - 1 not in owner and _is_key_value(row.name_words):
            _take_name_from_above(row, lines[index - 1], ctx, settings)
        if row is not None:
            rows.append(row)
            owner[index] = row
    if len(rows) >= 2 and sum(r.wordy for r in rows) * 2 > len(rows):
        # Most priced lines carry names after their first price: blocks side by side (a grid).
        owner = {i: r for i, r in owner.items() if not r.wordy}
        rows = list(owner.values())
    if not rows:
        return TableRead([], set(), None)
    _merge_second_lines(lines, owner, settings)
    rows = [owner[i] for i in sorted(owner)]
    _attach_following_lines(lines, owner, ctx, settings)
    columns = _columns(rows)
    rows = _drop_rows_off_the_columns(rows, columns)
    roles, proven = _roles(rows, columns, lines, settings)
    candidates = []
    running_total = Decimal(0)
    totals = _printed_totals(lines, ctx)
    open_row = None
    rates = _rates(page.text)  # tax or discount rates the page prints, read once
    for row in rows:
        if _echoes_a_total(row, totals):
            continue  # "MCARD TEND 27,30" under "TOTAL 27,30": the payment of the total
        cand, line_total = _row_candidate(
            page, row, columns, roles, proven, ctx, running_total, rates, settings
        )
        if cand is not None:
            candidates.append(cand)
            running_total += line_total or Decimal(0)
            if row is rows[-1] and not row.complete and row.name_words:
                raw = " ".join(row.name_lines[: settings.max_name_lines])
                open_row = OpenRow(cand, row.name_words[0].x0, len(row.name_lines), raw)
    _unglue_positions(candidates)
    used = {id(line) for row in rows for line in row.lines}
    span = (min(r.anchor.y0 for r in rows), max(ln.y1 for r in rows for ln in r.lines))
    return TableRead(candidates, used, span, open_row)


@dataclass
class OpenRow:
    """A page's last row, whose name may go on at the top of the next page."""

    candidate: Candidate
    name_x0: float
    name_lines: int
    raw_name: str  # as printed, before clean_name ("Kfz-")


class TableRead(NamedTuple):
    candidates: list[Candidate]
    used: set[int]  # ids of the lines the rows took
    span: tuple[float, float] | None  # the rows' vertical extent
    open_row: OpenRow | None = None


def continue_on_next_page(row: OpenRow, lines: list[Line], ctx: Context, settings=SETTINGS) -> None:
    """A name cut by a page break ("Kfz-" / "Haftpflicht SF25 (30 %) Typkl. 18" on the next page):
    the next page's first lines, standing where the name starts and holding no amount, finish it.
    Only lines at the very top count, so a letterhead or a repeated table header stops it."""
    extra: list[str] = []
    previous = None
    for line in lines:
        if len(extra) + row.name_lines >= settings.max_name_lines:
            break
        if any(is_price_like(amount) for amount in line_amounts(line, ctx.hint)):
            break
        if abs(line.x0 - row.name_x0) > line.height or not has_name_text(line.text):
            break
        if not_product_reason(line.text) or _only_header_words(line.text):
            break
        gap_limit = settings.wrap_gap * max(previous.height, line.height) if previous else float("inf")
        if previous is not None and line_gap(previous, line) > gap_limit:
            break
        extra.append(line.text)
        previous = line
    if extra:
        joiner = "" if row.raw_name.endswith("-") else " "  # "Kfz-" + "Haftpflicht"
        row.candidate.name = split_code_prefix(clean_name(row.raw_name + joiner + " ".join(extra)))[1]


def _unglue_positions(candidates: list[Candidate]) -> None:
    """OCR glues a row's position number to the code printed right after it ("1KR3M", "2SFK5",
    "3GTRWA5"): when the codes of consecutive rows begin with consecutive numbers followed by a
    letter, those numbers are the positions, not part of the codes."""
    skus = [c.sku or "" for c in candidates]
    first = re.match(r"^(\d{1,3})[A-Za-z]", skus[0]) if len(skus) >= 2 else None
    if first is None:
        return
    start = int(first.group(1))
    positions = [str(start + i) for i in range(len(skus))]
    rest = [sku[len(p) :] for sku, p in zip(skus, positions, strict=True)]
    glued = zip(skus, positions, rest, strict=True)
    if all(sku.startswith(p) and r[:1].isalpha() and is_code(r) for sku, p, r in glued):
        for cand, code in zip(candidates, rest, strict=True):
            cand.sku = code


def _printed_totals(lines: list[Line], ctx: Context) -> list[tuple[float, Decimal]]:
    """(y, amount) of the lines that say they are totals."""
    return [
        (line.y0, n.value)
        for line in lines
        if not_product_reason(line.text) == "totals"
        for n in numbers_on(line, ctx)
        if n.kind == _MONEY
    ]


def _echoes_a_total(row: Row, totals: list[tuple[float, Decimal]]) -> bool:
    money = [n.value for n in row.numbers if n.kind == _MONEY]
    return len(money) == 1 and any(y < row.anchor.y0 and value == money[0] for y, value in totals)


def _merge_second_lines(lines: list[Line], owner: dict[int, Row], settings) -> None:
    """A row whose name wraps onto a line that also prints the amount missing above ("Mineralwasser
    Medium  5,49  20 Stk" / "12 x 1,0l PET  109,80") is one row, not two."""
    for index in sorted(owner):
        row = owner.get(index)
        below = owner.get(index + 1)
        if row is None or below is None:
            continue
        close = line_gap(row.anchor, below.anchor) <= settings.wrap_gap * max(
            row.anchor.height, below.anchor.height
        )
        money = [n for n in below.numbers if n.kind == _MONEY]
        in_columns = all(n.x0 >= min(m.x0 for m in row.numbers) for n in money)  # not in the name
        if close and in_columns and not any(_claimed(row, n) for n in money):
            first_money = min(n.x0 for n in money)
            row.numbers.extend(n for n in below.numbers if n.kind == _MONEY)
            row.name_lines.append(" ".join(w.text for w in below.anchor.words if w.x1 <= first_money))
            row.codes.extend(below.codes)
            row.lines.append(below.anchor)
            del owner[index + 1]


def _attach_following_lines(lines: list[Line], owner: dict[int, Row], ctx: Context, settings) -> None:
    """Lines right below a row join it: numbers alone (its second line) or the rest of its name."""
    for index, row in sorted(owner.items()):
        if row.complete:
            continue
        name_x0 = row.name_words[0].x0
        # The name's column ends where the next number of the row starts.
        first_number_x0 = min((n.x0 for n in row.numbers if n.x0 > name_x0), default=float("inf"))
        last = row.anchor
        anchors = {id(r.anchor) for r in owner.values()} | {
            id(ln) for r in owner.values() for ln in r.lines[1:]
        }
        last = row.lines[-1]
        for line in lines[index + 1 :]:
            if id(line) in {id(ln) for ln in row.lines}:
                continue
            if id(line) in anchors:
                break
            if line_gap(last, line) > settings.wrap_gap * max(last.height, line.height):
                row.discount = _discount_below(last, line, ctx, settings)
                break
            numbers = numbers_on(line, ctx)
            if not_product_reason(line.text) == "discount":
                off = [n.value for n in numbers if n.kind == _MONEY and n.value < 0]
                row.discount = off[-1] if len(off) == 1 else None  # "abzgl. 16,7% Rabatt  -2,00"
                break
            if not_product_reason(line.text) or is_section_heading(line.text):
                break
            money = [n for n in numbers if n.kind == _MONEY]
            # counts and measures inside the name's column are the name's ("2 Nächte", "300 cm")
            left = [w for w in line.words if w.x1 <= first_number_x0 + 0.1 and not _is_number_word(w, money)]
            text_words = [w for w in left if w.x0 >= name_x0 - 0.5 * line.height]
            code_words = [w for w in left if w not in text_words or is_code(w.text)]
            text_words = [w for w in text_words if w not in code_words]
            text = " ".join(w.text for w in text_words)
            if any(n.kind == _MONEY for n in numbers) and has_name_text(text):
                break  # a priced line of its own (a discount, a gross price): not this row's name
            if numbers and not has_name_text(text):  # the row's second line of numbers
                if any(_claimed(row, n) for n in money):
                    break  # an amount in a column this row filled already: the next item's
                row.numbers.extend(n for n in money if not _claimed(row, n))
            elif text and not _is_key_value(text_words) and len(row.name_lines) < settings.max_name_lines:
                if not money:
                    row.name_lines.append(text)
            row.codes.extend(w.text.strip("[]():,;") for w in code_words if is_code(w.text))
            row.lines.append(line)
            last = line


def _discount_below(last: Line, line: Line, ctx: Context, settings) -> Decimal | None:
    """A discount printed a little apart under its row ("abzgl. 16,7% Rabatt  -2,00")."""
    if line_gap(last, line) > settings.discount_gap * max(last.height, line.height):
        return None
    if not_product_reason(line.text) != "discount":
        return None
    off = [n.value for n in numbers_on(line, ctx) if n.kind == _MONEY and n.value < 0]
    return off[0] if len(off) == 1 else None


def _drop_rows_off_the_columns(rows: list[Row], columns: dict[int, int]) -> list[Row]:
    """In a table of several rows, a price stands in a column other rows use too; a row whose
    every amount stands alone is a misread inside a name ("1,0l PET" read as "1,01 PET") or a note."""
    support = Counter(columns[id(n)] for r in rows for n in r.numbers if n.kind == _MONEY)
    if sum(1 for c in support.values() if c >= 2) == 0 or len(rows) < 3:
        return rows
    return [r for r in rows if any(support[columns[id(n)]] >= 2 for n in r.numbers if n.kind == _MONEY)]


def _claimed(row: Row, number: Number) -> bool:
    return any(n.x1 >= number.x0 and n.x0 <= number.x1 for n in row.numbers)


# --------------------------------------------------------------------------- columns and roles


def _columns(rows: list[Row]) -> dict[int, int]:
    """Column index of every number (by id): numbers that overlap horizontally share a column."""
    numbers = sorted((n for r in rows for n in r.numbers), key=lambda n: n.x0)
    column_of: dict[int, int] = {}
    current, right = -1, float("-inf")
    for number in numbers:
        if number.x0 > right:
            current += 1
            right = number.x1
        else:
            right = max(right, number.x1)
        column_of[id(number)] = current
    return column_of


@dataclass
class Roles:
    qty: int | None = None
    unit: int | None = None
    total: int | None = None
    old: int | None = None  # a column of old prices ("Precio anterior", "statt"), no product's


def _values(row: Row, columns: dict[int, int]) -> dict[int, Number]:
    out: dict[int, Number] = {}
    for number in row.numbers:
        out.setdefault(columns[id(number)], number)
    return out


def agrees(qty: Decimal, unit: Decimal, total: Decimal, settings: TableSettings = SETTINGS) -> bool:
    """qty x unit = total, allowing for a unit price printed rounded: to the cent, it may be off by
    half a cent, so the product by up to qty half-cents (3500 x 0,01 for 36,75 is 0,0105 each)."""
    if qty <= 0 or unit == 0:
        return False
    if total < 0 < unit:  # a credit note prints its line totals negative
        total = -total
    rounding = qty * settings.unit_rounding if exponent(unit) >= -2 else Decimal(0)
    tolerance = max(settings.arithmetic_cents, abs(total) * settings.arithmetic_share, rounding)
    return abs(qty * unit - total) <= tolerance


def _roles(rows: list[Row], columns: dict[int, int], lines: list[Line], settings) -> tuple[Roles, bool]:
    """Which column holds quantities, unit prices and line totals; True when arithmetic proved it."""
    votes: defaultdict[tuple[int, int, int], float] = defaultdict(float)
    hints = _header_hints(rows, columns, lines, settings)
    old = next((col for col, hint in hints.items() if hint == "old"), None)
    for row in rows:
        values = {col: n for col, n in _values(row, columns).items() if col != old}
        for q, qn in values.items():
            for u, un in values.items():
                for t, tn in values.items():
                    if len({q, u, t}) == 3 and un.kind == _MONEY and tn.kind == _MONEY and u != t:
                        if agrees(qn.value, un.value, tn.value, settings):
                            # 1 x 50 = 50 proves less than 3 x 3,33 = 10,00: which of two equal
                            # amounts is the unit price only the column order then tells
                            votes[(q, u, t)] += _vote_weight(qn.value, un.value, u < t)
    if votes:
        # 3 x 10 = 30 reads both ways: the header words over the columns break such ties
        wanted = {"qty": 0, "price": 1, "total": 2}
        for key in votes:
            votes[key] += 0.1 * sum(wanted.get(hints.get(col, "")) == i for i, col in enumerate(key))
        q, u, t = max(votes, key=votes.__getitem__)  # the first of the best, as Counter.most_common(1)
        return Roles(q, u, t, old), True
    roles = _roles_by_content(rows, columns, hints, old)
    return roles, False


def _vote_weight(qty: Decimal, unit: Decimal, unit_first: bool) -> float:
    """How much one row's qty x unit = total proves: 3 x 3,33 = 10,00 fully; 1 x 50 = 50 little (the
    two equal amounts could be either column); 60 x 1,00 = 60 least (a unit price of one)."""
    if qty != 1 and unit != 1:
        return 1.0
    if qty == 1:
        return 0.5 if unit_first else 0.25
    return 0.1


def _roles_by_content(
    rows: list[Row], columns: dict[int, int], hints: dict[int, str], old: int | None
) -> Roles:
    """Without arithmetic: quantities are counts and measures; of several money columns the header
    decides, else the left one is the unit price and the right one the line total."""
    kinds: dict[int, Counter] = {}
    for row in rows:
        for col, number in _values(row, columns).items():
            if col != old:
                kinds.setdefault(col, Counter())[number.kind] += 1
    money = sorted(c for c, k in kinds.items() if k[_MONEY] > (k[_COUNT] + k[_MEASURE]))
    counts = sorted(c for c, k in kinds.items() if c not in money)
    if not counts and len(money) >= 2 and _whole_numbers(rows, columns, money[0]):
        counts = [money.pop(0)]  # "1,0000 | 133,10 | 133,10": quantities printed with decimals
    roles = Roles(old=old)
    qty_cols = [c for c in counts if hints.get(c) in (None, "qty")]
    roles.qty = next((c for c in qty_cols if hints.get(c) == "qty"), qty_cols[0] if qty_cols else None)
    if not money:
        return roles
    priced = [c for c in money if hints.get(c) == "price"]
    totals = [c for c in money if hints.get(c) == "total"]
    if len(money) == 1:
        only = money[0]
        if hints.get(only) == "total" and roles.qty is not None:
            roles.total = only
        else:
            roles.unit = only
        return roles
    roles.unit = priced[0] if priced else money[0]
    roles.total = totals[-1] if totals else money[-1]
    if roles.total == roles.unit:
        roles.total = None
    return roles


def _whole_numbers(rows: list[Row], columns: dict[int, int], col: int) -> bool:
    values = [n.value for r in rows for c, n in _values(r, columns).items() if c == col]
    return bool(values) and all(v == v.to_integral() and 0 < v < 10_000 for v in values)


def _header_hints(rows: list[Row], columns: dict[int, int], lines: list[Line], settings) -> dict[int, str]:
    """The kind the header words standing over each column name (qty, price, total...)."""
    first = rows[0].anchor
    above = [ln for ln in lines if ln.y1 <= first.y0 and not numbers_on(ln, Context(None, None))]
    above = above[-settings.header_lines :]
    spans: dict[int, list[float]] = {}
    for row in rows:
        for number in row.numbers:
            span = spans.setdefault(columns[id(number)], [number.x0, number.x1])
            span[0], span[1] = min(span[0], number.x0), max(span[1], number.x1)
    words = vocabulary()
    weights: dict[int, Counter] = {}
    for line in above:
        for cell in line.cells:
            kinds = [words.header_kind(word.text) for word in cell.words]
            under: set[int] = set()
            for word, kind in zip(cell.words, kinds, strict=True):
                center = (word.x0 + word.x1) / 2
                for col, (x0, x1) in spans.items():
                    if x0 - line.height <= center <= x1 + line.height:
                        under.add(col)
                        if kind is not None:
                            weights.setdefault(col, Counter())[kind] += 1
            if "old" in kinds:  # "Precio anterior", "Alter Preis": the whole heading says old
                for col in under:
                    weights.setdefault(col, Counter())["old"] += 1
    return {col: "old" if c["old"] else c.most_common(1)[0][0] for col, c in weights.items()}


# --------------------------------------------------------------------------- candidates


def _row_candidate(
    page: Page,
    row: Row,
    columns: dict[int, int],
    roles: Roles,
    proven: bool,
    ctx: Context,
    running_total: Decimal,
    page_rates: set[Decimal],
    settings: TableSettings,
) -> tuple[Candidate | None, Decimal | None]:
    values = _values(row, columns)
    qty_n = values.get(roles.qty) if roles.qty is not None else None
    unit_n = values.get(roles.unit) if roles.unit is not None else None
    total_n = values.get(roles.total) if roles.total is not None else None
    marked = _marked_unit_price(row)
    if marked is not None:  # the line itself says which is the unit price: "2 @ 3,49  6,98"
        qty_n, unit_n, total_n = marked
    money = [n for n in row.numbers if n.kind == _MONEY]
    qty = qty_n.value if qty_n is not None else None
    if unit_n is None and total_n is None:
        unit_n = money[0]  # a row whose amount stands off the table's columns
    confidence = settings.confidence_column if (proven or unit_n is not None) else settings.confidence_alone
    rate = None
    if qty is not None and unit_n is not None and total_n is not None:
        if agrees(qty, unit_n.value, total_n.value, settings):
            confidence = settings.confidence_arithmetic
        elif (
            rate := _rate_that_agrees(row, page_rates, qty, unit_n.value, total_n.value, settings)
        ) is not None:
            confidence = settings.confidence_arithmetic
    priced = unit_n or total_n
    assert priced is not None  # a row without either took its first amount as the unit price above
    if rate is not None and rate < 0:
        assert unit_n is not None and total_n is not None  # a rate is only sought with all three
        # "5 | 4,55 | 10% | 20,48": a discount on the price. The item's net price is the gross
        # price less it (EN 16931 BT-146 = BT-148 - BT-147), as e-invoices state it.
        price = _per_unit(abs(total_n.value), qty)
    elif unit_n is not None:
        if confidence == settings.confidence_arithmetic and rate is None:
            assert qty is not None and total_n is not None  # the arithmetic agreed on all three
            price = _exact_unit(qty, unit_n, total_n)
        else:
            price = unit_n.value
    else:
        price = _per_unit(priced.value, qty)
    if row.discount is not None and qty and total_n is not None:  # the net unit price
        price = _per_unit(total_n.value + row.discount, qty)
    line_total = total_n.value if total_n is not None else price * (qty or 1)
    if running_total and len(money) == 1 and _is_a_total(money[0].value, running_total, page_rates, settings):
        return None, None  # the sum of the rows above it, or that sum with a tax rate printed here
    name = clean_name(" ".join(row.name_lines[: settings.max_name_lines]))
    code, name = split_code_prefix(name)
    free = price == 0 and proven and qty and unit_n is not None and total_n is not None and total_n.value == 0
    if price < 0 or (price == 0 and not free) or not has_name_text(name):
        return None, None  # a free line counts when its own qty x 0 = 0 in a proven table
    sku, gtin = _sku_and_gtin(([code] if code else []) + row.codes)
    words = [w for line in row.lines for w in line.words]
    currency, currency_basis = ctx.currency_decision(priced.amount)
    cand = make_candidate(
        page,
        name,
        price,
        currency,
        sku,
        _clean_qty(qty),
        words,
        confidence,
        price_words=priced.words,
        price_checked=confidence == settings.confidence_arithmetic,
    )
    cand.confidence = round(cand.confidence * _name_evidence(name, settings), 3)
    cand.attributes["evidence"] = _EVIDENCE[confidence]
    cand.attributes["currency_basis"] = currency_basis
    if gtin:
        cand.attributes["gtin"] = gtin
    if line_total is not None:
        cand.attributes["line_total"] = money_text(line_total)
    old = values[roles.old].value if roles.old in values else None
    old = next((ln.memo["old_price"] for ln in row.lines if "old_price" in ln.memo), old)
    if old is not None:
        cand.attributes["old_price"] = money_text(old)
    if rate is not None and rate < 0 and unit_n is not None:
        cand.attributes["gross_price"] = money_text(unit_n.value)
        cand.attributes["discount_percent"] = str(-rate)
    return cand, line_total


def _marked_unit_price(row: Row) -> tuple[Number | None, Number, Number | None] | None:
    """(quantity, unit price, line total) of a line that marks its unit price with '@', 'x' or '/kg'."""
    ordered = sorted(row.numbers, key=lambda n: n.x0)
    for i, number in enumerate(ordered):
        if number.per_unit and number.kind == _MONEY:
            whole = [n for n in ordered[:i] if n.kind != _MONEY or n.value == n.value.to_integral()]
            qty = whole[-1] if whole else None
            total = next((n for n in ordered[i + 1 :] if n.kind == _MONEY), None)
            return qty, number, total
    return None


def _name_evidence(name: str, settings: TableSettings) -> float:
    return settings.dated_name if _DATED_NAME_RE.search(name) else 1.0


def _rate_that_agrees(
    row: Row, page_rates: set[Decimal], qty: Decimal, unit: Decimal, total: Decimal, settings: TableSettings
) -> Decimal | None:
    """The rate that makes qty x unit the line total: a discount printed on the row (negative:
    qty x unit x (1 - rate) = total), or a tax printed on the row or the page (a total that
    includes it: qty x unit x (1 + rate) = total). None when neither does."""
    on_row = _rates(" ".join(w.text for w in row.anchor.words))
    for rate in sorted(on_row):
        if agrees(qty, unit * (1 - rate / 100), total, settings):
            return -rate
    for rate in sorted(on_row | page_rates):
        if agrees(qty, unit * (1 + rate / 100), total, settings):
            return rate
    return None


def _rates(text: str) -> set[Decimal]:
    return {rate for m in _RATE_FIGURE.findall(text) if (rate := Decimal(m.replace(",", "."))) > 0}


def _exact_unit(qty: Decimal, unit: Number, total: Number) -> Decimal:
    """A unit price printed to the cent whose product misses the line total by rounding
    (3 x 3,33 = 9,99 for 10,00) is the total divided by the quantity, to 4 decimals."""
    if unit.amount.decimals != 2 or qty != qty.to_integral() or qty * unit.value == total.value:
        return unit.value  # a weighed quantity's total is the rounded one
    exact = (total.value / qty).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return exact if exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == unit.value else unit.value


def reconcile(
    candidates: list[Candidate], lines: list[Line], ocr_pages: set[int], ctx: Context, settings=SETTINGS
) -> None:
    """Do the rows' line totals add up to an amount the document prints (its subtotal or total)?
    Says so on each candidate. A sum that adds up checks the digits of every price it was made of;
    one that does not lowers the confidence of rows read from a text layer, where the digits are
    exact and a broken sum means a stray or a missing row. On OCR'd pages (`ocr_pages`) one misread
    digit anywhere, the printed total's too, breaks it: OCR's own doubt about each price says more."""
    totals = [Decimal(c.attributes["line_total"]) for c in candidates if "line_total" in c.attributes]
    if not totals:
        return
    wanted = sum(totals)
    printed = {a.value for line in lines for a in line_amounts(line, ctx.hint)}
    reconciled = any(abs(value - wanted) <= settings.arithmetic_cents for value in printed)
    for cand in candidates:
        cand.attributes["reconciled"] = reconciled
        if not reconciled:
            if cand.page not in ocr_pages:
                cand.confidence = round(cand.confidence * settings.unreconciled, 3)
        elif cand.price is not None and agrees(
            cand.qty or Decimal(1), cand.price, Decimal(cand.attributes["line_total"])
        ):
            # OCR's doubt about the digits no longer counts
            structure = _STRUCTURE[cand.attributes["evidence"]] * _name_evidence(cand.name, settings)
            cand.confidence = max(cand.confidence, round(structure, 3))


_RATE_FIGURE = re.compile(r"(\d{1,2}(?:[.,]\d{1,2})?)\s*%")


def _is_a_total(value: Decimal, running: Decimal, page_rates: set[Decimal], settings: TableSettings) -> bool:
    if abs(value - running) < settings.arithmetic_cents:
        return True
    cents = Decimal("0.01")
    return any(
        abs(value - (running * (100 + rate) / 100).quantize(cents)) < settings.arithmetic_cents
        for rate in page_rates
    )


def _per_unit(total: Decimal, qty: Decimal | None) -> Decimal:
    if not qty or qty <= 0 or qty == 1:
        return total
    per_unit = total / qty
    cents = per_unit.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return cents if cents == per_unit else per_unit.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _clean_qty(qty: Decimal | None) -> Decimal | None:
    if qty is None or qty <= 0:
        return None
    return qty.to_integral() if qty == qty.to_integral() else qty.normalize()


def _sku_and_gtin(codes: list[str]) -> tuple[str | None, str | None]:
    """The seller's code is the SKU; a barcode alone (till receipts) is the SKU as well, even one
    whose check digit OCR broke."""
    gtin = next((c for c in codes if is_gtin(c)), None)
    short = next((c for c in codes if c != gtin and (not _LONG_DIGITS.match(c) or len(c) <= 8)), None)
    return short or gtin or next(iter(codes), None), gtin
