"""Catalog blocks: a price line takes its name and SKU from the lines just above it (a name may
also stand left of the price on the same line); several blocks side by side form a grid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from angebae.ocr.layout import (
    BLOCK_GAP,
    CODE_RE,
    DATE_RE,
    MAX_NAME_LINES,
    PHONE_RE,
    PRICE_LABELS,
    SKU_LABELS,
    Amount,
    Cell,
    Context,
    Line,
    clean_name,
    find_amounts,
    has_name_text,
    is_excluded,
    is_label,
    is_price_like,
    is_section_heading,
    line_gap,
    make_candidate,
    split_code_prefix,
)
from angebae.ocr.money import parse_amount
from angebae.ocr.types import Candidate, Page
from angebae.ocr.vocabulary import fold, vocabulary

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
    if _prices_lead(segments):
        return _price_first_candidates(page, segments, ctx), []
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


def _prices_lead(segments: list[Segment]) -> bool:
    """True when the page's blocks print their price first and the name under it: most prices
    have nothing to name them right above, and a name right below."""
    leading = named_above = 0
    for i, seg in enumerate(segments):
        if seg.kind != "price" or _inline_name(seg, segments[:i]):
            continue
        above = any(s.kind == "text" for s in _nearby(seg, segments[:i]))
        named_above += above
        leading += not above and any(s.kind == "text" for s in _stacked_below(seg, segments[i + 1 :]))
    return leading > named_above


def _price_first_candidates(page: Page, segments: list[Segment], ctx: Context) -> list[Candidate]:
    candidates = []
    for i, seg in enumerate(segments):
        if seg.kind == "price":
            below = _stacked_below(seg, segments[i + 1 :])
            cand = _block_candidate(page, seg, below, None, ctx, [])
            if cand is not None:
                candidates.append(cand)
    return candidates


def _stacked_below(seg: Segment, after: list[Segment]) -> list[Segment]:
    """Name and reference lines stacked right under a price, in its column, up to the next price."""
    out: list[Segment] = []
    upper = seg.line
    for cand in after:
        if cand.line is seg.line or cand.kind == "other" or not _same_column(cand.cell, seg.span):
            continue
        if cand.kind in ("stop", "price"):
            break
        if line_gap(upper, cand.line) > 1.3 * max(cand.line.height, upper.height):
            break
        out.append(cand)
        upper = cand.line
        if sum(1 for s in out if s.kind == "text") >= MAX_NAME_LINES:
            break
    return [s for s in out if s.kind in ("text", "sku")]


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
    currency, basis = ctx.currency_decision(amount)
    cand = make_candidate(
        page, name, amount.value, currency, sku, qty, words, structure, price_words=amount.words
    )
    cand.attributes["currency_basis"] = basis
    return cand


def _has_sku_above(seg: Segment, pending: list[Segment]) -> bool:
    return any(s.kind == "sku" for s in _nearby(seg, pending))


def _sku_below(seg: Segment, after: list[Segment]) -> Segment | None:
    """A reference printed right under the price, closer to it than to whatever follows it (else
    it heads the next block)."""
    column = [s for s in after if s.line.y0 > seg.line.y0 and _same_column(s.cell, seg.span)]
    if not column or column[0].kind != "sku":
        return None
    sku = column[0]
    gap = line_gap(seg.line, sku.line)
    if gap >= 1.2 * seg.line.height:
        return None
    nxt = next((s for s in column[1:] if s.line is not sku.line), None)
    return sku if nxt is None or line_gap(sku.line, nxt.line) > gap + 0.5 else None


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
    if match and fold(seg.cell.text[match.end(1) :].strip().split(" ")[0].rstrip(".")) in vocabulary().units:
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
        if line_gap(cand.line, lower) > 1.3 * max(cand.line.height, lower.height) and cand.line.y0 < lower.y0:
            break
        if cand.line.y0 < lower.y0 and cand.line.height > 1.3 * seg.line.height:
            break  # a title in a bigger font
        out.insert(0, cand)
        lower = cand.line if cand.line.y0 < lower.y0 else lower
        if sum(1 for s in out if s.kind == "text") >= MAX_NAME_LINES:
            break
    return [s for s in out if s.kind in ("text", "sku")]
