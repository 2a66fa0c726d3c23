"""Positioned words as a reader sees them: lines, cells, amounts, and the document's context.

Works on geometry, not on the reader's block/line ids (text layers list table cells in odd orders,
OCR splits rows into blocks): words -> lines by vertical overlap, chained left to right so slightly
rotated scans still work -> cells (runs of words separated by less than a line height).
"""

from __future__ import annotations

import functools
import re
import statistics
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
from angebae.ocr.vocabulary import fold, vocabulary

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
COUNTRY_CURRENCY = {
    "cuit": "ARS",
    "afip": "ARS",
    "cfdi": "MXN",
    "rfc": "MXN",
    "rut": "CLP",
    "hst": "CAD",  # the harmonized sales tax exists only in Canada
    "abn": "AUD",  # Australian Business Number
}
DOLLAR_LIKE = {"USD", "ARS", "MXN", "CLP", "COP", "UYU", "CAD", "AUD"}
MAX_NAME_LINES = 3
# Page tilt: lines spanning this many line heights tell it; below MIN_SLOPE (0.1 degree) it is none;
# past MAX_SLOPE (about 8.5 degrees) it is no tilt a line could be read through.
MIN_SLOPE_SPAN = 8.0
MIN_SLOPE = 0.002
MAX_SLOPE = 0.15
SLOPE_AGREEMENT = 2 / 3  # share of the lines whose slope must agree with the median
# Two line fragments side by side whose centres differ by up to this share of a line height are one.
SIDE_BY_SIDE = 0.75
# Outside tables, words further apart than this many line heights belong to different blocks.
BLOCK_GAP = 2.5

# --------------------------------------------------------------------------- geometry


@dataclass
class Words:
    """Extent and text of a run of words (a cell, a line, a number)."""

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
class Cell(Words):
    pass


@dataclass
class Line(Words):
    cells: list[Cell] = field(default_factory=list)
    # What later stages computed from this line's words (its amounts), kept once the line is built.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def y0(self) -> float:
        return self._median("y0")

    @property
    def y1(self) -> float:
        return self._median("y1")

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1e-6)

    def _median(self, edge: str) -> float:
        key = (edge, len(self.words))  # a line only grows while it is built
        if key not in self.memo:
            self.memo[key] = statistics.median(getattr(w, edge) for w in self.words)
        return self.memo[key]


# Receipts glue a quantity, "@" and a unit price with its unit: "2@$3.49ea", "$6.59/kg", "7,99€/kg".
_GLUED_RE = re.compile(r"(@)|(?<=\d)((?:[€$£]?/|ea\b)[A-Za-z]{0,3}[,.]?)$")


def split_glued(word: Word) -> list[Word]:
    """A word cut where a receipt glued '@' or a per-unit suffix to its numbers; positions are
    shared out by character count."""
    parts = [p for p in _GLUED_RE.split(word.text) if p]
    if len(parts) <= 1:
        return [word]
    out, start, width = [], word.x0, (word.x1 - word.x0) / max(1, len(word.text))
    for part in parts:
        end = start + width * len(part)
        out.append(Word(part, start, word.y0, end, word.y1, word.confidence, word.block, word.line))
        start = end
    return out


def page_slope(words: list[Word]) -> float:
    """How much the page's lines climb or fall per point across (a tilted scan or photo), from the
    lines OCR or the text layer itself reported: the median slope of those spanning some width."""
    by_line: dict[tuple[int, int], list[Word]] = {}
    for word in words:
        by_line.setdefault((word.block, word.line), []).append(word)
    slopes = []
    for members in by_line.values():
        if len(members) < 3:
            continue
        first, last = min(members, key=lambda w: w.x0), max(members, key=lambda w: w.x1)
        height = statistics.median(w.y1 - w.y0 for w in members)
        dx = (last.x0 + last.x1 - first.x0 - first.x1) / 2
        if dx <= MIN_SLOPE_SPAN * max(1.0, height):
            continue
        slope = (last.y0 + last.y1 - first.y0 - first.y1) / 2 / dx
        off = [
            abs((w.y0 + w.y1 - first.y0 - first.y1) / 2 - slope * (w.x0 + w.x1 - first.x0 - first.x1) / 2)
            for w in members
        ]
        if max(off) <= height:  # one line (words built without line numbers share one id)
            slopes.append(slope)
    if not slopes:
        return 0.0
    slope = statistics.median(slopes)
    # A flat tilt (a scan fed askew) turns every line alike; a photo's perspective or a curled
    # receipt bends them differently, and one slope would misjoin as many lines as it mends.
    agree = sum(abs(s - slope) <= max(MIN_SLOPE * 2, abs(slope) / 2) for s in slopes)
    if abs(slope) < MIN_SLOPE or agree < SLOPE_AGREEMENT * len(slopes):
        return 0.0
    return max(-MAX_SLOPE, min(MAX_SLOPE, slope))


def group_lines(words: list[Word]) -> list[Line]:
    """Words -> lines by vertical position, chaining each word to the line of its left neighbour;
    on a tilted page the neighbour is expected where the page's slope puts it."""
    lines: list[Line] = []
    words = [part for word in words for part in split_glued(word) if part.text.strip()]
    slope = page_slope(words)
    ends: list[tuple[float, float, float, float]] = []  # each line's last word: centre x, y, height, x0
    # Lines by the band their last word's centre lies in, so a word looks only at lines near it:
    # a neighbour is at most half a word height off the slope, which moves it by `reach` at most.
    band = max((w.y1 - w.y0 for w in words), default=1.0) or 1.0
    width = max((w.x1 for w in words), default=0.0) - min((w.x0 for w in words), default=0.0)
    reach = int((abs(slope) * width + band) // band) + 1
    bands: dict[int, set[int]] = {}
    for word in sorted(words, key=lambda w: (w.x0, w.y0)):
        best: int | None = None
        best_dy: float | None = None  # set with best
        cx, cy, h = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2, word.y1 - word.y0
        home = int(cy // band)
        for i in (i for b in range(home - reach, home + reach + 1) for i in bands.get(b, ())):
            lx, ly, lh, lx0 = ends[i]
            dy = abs(ly + slope * (cx - lx) - cy)
            if dy > 0.5 * min(h, lh) or lx0 > word.x0:
                continue
            if best is None or best_dy is None or dy < best_dy or (dy == best_dy and i < best):  # ties: older
                best, best_dy = i, dy
        if best is None:
            best = len(lines)
            lines.append(Line([word]))
            ends.append((cx, cy, h, word.x0))
        else:
            lines[best].words.append(word)
            bands[int(ends[best][1] // band)].discard(best)
            ends[best] = (cx, cy, h, word.x0)
        bands.setdefault(home, set()).add(best)
    lines = _join_side_by_side(lines)
    for line in lines:
        line.words = join_split_amounts(line.words)
        line.cells = split_cells(line)
    return sorted(lines, key=lambda ln: (ln.y0 + ln.y1) / 2)


def _join_side_by_side(lines: list[Line]) -> list[Line]:
    """A line's right part that a photo's perspective lifted a little ('(SALE) RED POMELO' ...
    'W $2.32' a few points higher) joins the part left of it, when nothing else is nearer."""
    lines = sorted(lines, key=lambda ln: ln.x0)
    kept: list[Line] = []
    shapes: list[tuple[float, float, float]] = []  # each kept line's x1, centre y and height
    for line in lines:
        cy, height, x0 = (line.y0 + line.y1) / 2, line.height, line.x0
        best, best_dy = None, None
        for i, (left_x1, left_cy, left_height) in enumerate(shapes):
            if left_x1 >= x0:
                continue
            dy = abs(left_cy - cy)
            if dy <= SIDE_BY_SIDE * min(left_height, height) and (best_dy is None or dy < best_dy):
                best, best_dy = i, dy
        if best is None:
            kept.append(line)
            shapes.append((line.x1, cy, height))
        else:
            left = kept[best]
            left.words.extend(line.words)
            shapes[best] = (left.x1, (left.y0 + left.y1) / 2, left.height)
    return kept


_SPLIT_HEAD = re.compile(r"^[-$€£]?\d{1,3}(?:[.,]\d{3})*[.,]$")
_SPLIT_TAIL = re.compile(r"^\d{2}\b")


def join_split_amounts(words: list[Word]) -> list[Word]:
    """OCR cuts '15,79' into '15,' and '79' when it sees a space after the comma: glue them back."""
    out: list[Word] = []
    for word in words:
        prev = out[-1] if out else None
        if (
            prev is not None
            and _SPLIT_HEAD.match(prev.text)
            and _SPLIT_TAIL.match(word.text)
            and word.x0 - prev.x1 < 0.6 * (word.y1 - word.y0)
        ):
            out[-1] = Word(
                prev.text + word.text,
                prev.x0,
                prev.y0,
                word.x1,
                word.y1,
                min(prev.confidence, word.confidence),
                prev.block,
                prev.line,
            )
        else:
            out.append(word)
    return out


def set_aside_old_prices(lines: list[Line], hint: str | None) -> list[Line]:
    """The lines without the prices they mark as old ("Antes 12,00 €", "statt 89,99", "was $24.99")
    and without the words that mark a price as current ("Ahora", "jetzt", "now"): what is left
    reads as any other priced line, with the current price the product's. A line that held only an
    old price is gone; a line that kept words keeps the old price in `memo["old_price"]`."""
    words = vocabulary()
    marks = words.old_price_marks | words.new_price_marks
    longest = max((len(m) for m in marks), default=0)
    last_words = {m[-1] for m in marks}  # the word right before a marked price
    out = []
    for line in lines:
        drop: set[int] = set()
        if not any(fold(w.text).strip(":") in last_words for w in line.words):
            out.append(line)
            continue
        for amount in line_amounts(line, hint):
            if not (amount.marked or amount.decimals in (2, 4)):
                continue  # "antes 2 unidades" holds no price
            start = line.words.index(amount.words[0])
            for size in range(min(longest, start), 0, -1):
                phrase = tuple(fold(w.text).strip(":") for w in line.words[start - size : start])
                if phrase in words.old_price_marks:
                    drop.update(range(start - size, start + len(amount.words)))
                    line.memo["old_price"] = amount.value
                    break
                if phrase in words.new_price_marks:
                    drop.update(range(start - size, start))
                    break
        if not drop:
            out.append(line)
            continue
        kept = [w for i, w in enumerate(line.words) if i not in drop]
        if kept:
            line.words[:] = kept
            line.memo = {k: v for k, v in line.memo.items() if k == "old_price"}
            line.cells = split_cells(line)
            out.append(line)
    return out


def split_cells(line: Line) -> list[Cell]:
    """Runs of words whose gaps are smaller than a column gap: ~0.8 line heights, or 1.6 of the
    line's mean character widths where that is wider. The second is for receipts' monospaced
    capitals, whose boxes are only cap-high while every space is a whole character wide."""
    letters = sum(len(w.text) for w in line.words)
    char_width = sum(w.x1 - w.x0 for w in line.words) / letters if letters else 0.0
    gap_limit = max(0.8 * line.height, 1.6 * char_width)
    cells = [Cell([line.words[0]])]
    for prev, word in zip(line.words, line.words[1:], strict=False):
        if word.x0 - prev.x1 > gap_limit:
            cells.append(Cell([word]))
        else:
            cells[-1].words.append(word)
    return cells


# --------------------------------------------------------------------------- text helpers


def is_excluded(text: str) -> bool:
    """Does a line speak of totals, taxes, discounts, shipping, payment, dates or page numbers?"""
    return not_product_reason(text) is not None


@functools.lru_cache(maxsize=4096)
def not_product_reason(text: str) -> str | None:
    """Why a line is no product (totals, tax, payment, fees, discount, document), or None."""
    folded = fold(text)
    words = vocabulary()
    for token in _words(folded):
        reason = words.not_product_reason(token)
        if reason in ("totals", "payment") and _MEASURE_RE.search(folded):
            continue  # "Detergente líquido 3 L", "Peso neto 500 g": no total is sold by the litre
        if reason:
            return reason
    if _RATE_RE.match(folded):
        return "rate"  # "5,00% sur 100,00", "% Basisbetrag"
    return "document" if PAGE_RE.match(folded.strip()) else None


_RATE_RE = re.compile(r"^\s*[-+]?(?:\d+(?:[.,]\d+)?)?\s*%")
# A physical measure in a name ("3 L", "500 g", "1,5 m", "750 W"), never a count ("3 u", "2 x").
_MEASURE_RE = re.compile(r"\d(?:[.,]\d+)?\s?(?:[mck]?[glm]|gr|ml|cl|mm|cm|kw|w|v|mah|oz|lbs?|in|ft|gal)\b")


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
    words = [w for w in text.split() if not is_leader(w)]
    return " ".join(words).strip(" -–:;,|*")


# Dot leaders ("Aceite ........ 12,50") that OCR read as a run of small round letters.
_LEADER_CHARS = set("eocnsaiu.,:;·•-_'`\"“”")


def is_leader(word: str) -> bool:
    """'eeeeeeeeseeeeneee', 'ococcocnnc', '..cocoicicn': dots read as letters, no word."""
    lowered = word.lower()
    if len(lowered) >= 3 and len(set(lowered)) == 1 and not lowered.isdigit():
        return True
    return len(lowered) >= 8 and set(lowered) <= _LEADER_CHARS and len(set(lowered) - set(".,:;")) <= 5


def has_name_text(text: str) -> bool:
    """At least one word of three letters or more that is not a unit."""
    return any(len(t) >= 3 and t not in vocabulary().units for t in re.findall(r"[a-z]+", fold(text)))


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


def line_amounts(line: Line, hint: str | None) -> list[Amount]:
    """`find_amounts` of the line's words, computed once per line (several stages ask)."""
    key = ("amounts", hint, len(line.words))
    if key not in line.memo:
        line.memo[key] = find_amounts(line.words, hint)
    return line.memo[key]


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
    if re.fullmatch(r"\d{1,4}\.", text):
        text = text[:-1]  # "1. Stk": an integer with a stray period (OCR, or a German ordinal)
    nxt = words[i + 1].text.strip() if i + 1 < len(words) else ""
    if is_currency_only(text) and i + 1 < len(words):
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
    after = words[i + 2].text if i + 2 < len(words) else ""
    # "3 $ 2.450,00": a symbol followed by a number is that number's, not a trailing one.
    if currency is None and is_currency_only(nxt) and parse_amount(after, hint) is None:
        currency = find_currency_token(nxt)
        used_words.append(words[i + 1])
    digits = re.sub(r"\D", "", text)
    if len(digits) > 9 or (digits.startswith("0") and len(digits) > 1 and not re.match(r"^\D*0[.,]", text)):
        return None, 1  # codes, phone numbers, ids
    decimals = _decimals(text, hint)
    return Amount(value, currency, used_words, currency is not None, decimals), len(used_words)


def is_currency_only(text: str) -> bool:
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
    hint: str | None  # the document's decimal separator
    currency: str | None  # the document's currency
    currency_basis: str = "none"  # how it was decided: see document_context
    default: str | None = None  # the shop's default currency

    def currency_of(self, amount: Amount | None) -> str | None:
        return self.currency_decision(amount)[0]

    def currency_decision(self, amount: Amount | None) -> tuple[str | None, str]:
        """(currency, how it was decided) for a price: printed with it ("printed"), a bare "$"
        read as the document's or the shop's dollar, or the document's own currency."""
        if amount is None or amount.currency is None:
            return self.currency, self.currency_basis
        if amount.currency == "USD" and not _says_usd(amount):  # a bare "$" is no currency yet
            if self.currency in DOLLAR_LIKE and self.currency_basis != "$ alone":
                return self.currency, f"$ and {self.currency_basis}"
            if self.default in DOLLAR_LIKE:
                return self.default, "$ and shop default"
            return "USD", "$ alone"
        return amount.currency, "printed"


def _says_usd(amount: Amount) -> bool:
    return any("USD" in w.text.upper() or "US$" in w.text.upper() for w in amount.words)


def document_context(pages: list[Page], default_currency: str | None) -> Context:
    """The decimal separator and the currency of a whole document, and how the currency was decided:
    "document" (codes, symbols other than a bare "$", or words such as "pesos mexicanos" printed in
    it), "country" (a tax id or tax name that only one country uses: CUIT, RFC, HST...), "shop
    default" (DEFAULT_CURRENCY), or "none"."""
    texts = [w.text for p in pages for w in p.words]
    full = " ".join(texts)
    hint = decimal_separator(texts)
    printed = document_currency(full)
    bare_dollar = printed == "USD" and not _names_usd(full)
    if printed is not None and not bare_dollar:
        return Context(hint, printed, "document", default_currency)
    country = _country_currency(full)
    if country:
        return Context(hint, country, "country", default_currency)
    if default_currency and (not bare_dollar or default_currency in DOLLAR_LIKE):
        return Context(hint, default_currency, "shop default", default_currency)
    return Context(hint, printed, "$ alone" if bare_dollar else "none", default_currency)


def _names_usd(text: str) -> bool:
    return re.search(r"(?<![A-Za-z])USD(?![A-Za-z])|US\$|U\$S", text) is not None


def _country_currency(text: str) -> str | None:
    tokens = set(_words(fold(text)))
    for cue, code in COUNTRY_CURRENCY.items():
        if cue in tokens:
            return code
    return None


def line_gap(a: Line, b: Line) -> float:
    """Vertical white space between two lines (0 when they overlap)."""
    return max(b.y0 - a.y1, a.y0 - b.y1, 0.0)


# --------------------------------------------------------------------------- assembly


def make_candidate(
    page: Page,
    name: str,
    price: Decimal,
    currency: str | None,
    sku: str | None,
    qty: Decimal | None,
    words: list[Word],
    structure: float,
    description: str = "",
    price_words: list[Word] | None = None,
    price_checked: bool = False,
) -> Candidate:
    """The confidence is the structure's evidence times how sure OCR was of the price it read
    (half weight: a name misread by a letter is still the product; text-layer words count 1.0),
    unless arithmetic checked the price's digits (`price_checked`: qty x unit = total)."""
    read = price_words or words
    ocr = 0.5 + 0.5 * min(w.confidence for w in read) if read else 0.0
    if price_checked:
        ocr = 1.0
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
