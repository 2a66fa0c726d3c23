"""Prices and currencies as printed in catalogs, price lists and invoices (Spanish and English).

`parse_amount` reads one printed amount: `1.299,00`, `1,299.00`, `1299.00`, `1 299,00`, `$1,299`,
`12,50 €`, `-12,10`, `(5.00)`, `USD 59.95`. `hint` names the document's decimal separator ("," or
"."); without it a lone separator followed by exactly three digits is a thousands separator
(`1.299` and `1,299` are both 1299), as price lists print them far more often than 3-decimal prices.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation

SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "R$": "BRL", "US$": "USD", "U$S": "USD", "$": "USD"}
CODES = frozenset("USD EUR GBP ARS MXN CLP COP PEN UYU BRL CAD AUD CHF JPY PYG BOB VES CRC GTQ DOP".split())
# Words that say which dollar a bare "$" means.
DOLLAR_WORDS = {
    "pesos argentinos": "ARS",
    "peso argentino": "ARS",
    "pesos mexicanos": "MXN",
    "peso mexicano": "MXN",
    "pesos chilenos": "CLP",
    "pesos colombianos": "COP",
    "pesos uruguayos": "UYU",
    "dólares": "USD",
    "dolares": "USD",
    "dollars": "USD",
    "euros": "EUR",
    "libras": "GBP",
    "pounds sterling": "GBP",
}

_SYMBOL_RE = "|".join(re.escape(s) for s in sorted(SYMBOLS, key=len, reverse=True))
_CODE_RE = "|".join(sorted(CODES))
# A code inside a reference ("ARS-68465", "SKU-USD-1") names no currency.
_CURRENCY_RE = re.compile(rf"(?:(?<![A-Za-z])(?<![\w][-_/])(?:{_CODE_RE})(?![A-Za-z]|[-_/]\w)|{_SYMBOL_RE})")
# A number with optional thousands groups (".", ",", space, apostrophe) and decimals.
_NUMBER_RE = re.compile(r"\d{1,3}(?:[.,' \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")
_AMOUNT_RE = re.compile(
    rf"^(?P<neg1>[-−–(])?\s*(?P<cur1>{_SYMBOL_RE}|{_CODE_RE})?\s*(?P<neg2>[-−–])?\s*"
    rf"(?P<num>{_NUMBER_RE.pattern})\s*(?P<cur2>{_SYMBOL_RE}|{_CODE_RE})?\s*(?P<neg3>[-)])?$",
    re.IGNORECASE,
)
_UNAMBIGUOUS_COMMA = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})*,\d{1,2}(?![\d.,])")
_UNAMBIGUOUS_DOT = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})*\.\d{1,2}(?![\d.,])")


def parse_amount(text: str, hint: str | None = None) -> Decimal | None:
    """The amount printed in `text` (one amount, optionally with a currency), else None."""
    match = _AMOUNT_RE.match(text.strip().rstrip(":"))
    if not match:
        return None
    value = _parse_number(match["num"], hint)
    if value is None:
        return None
    negative = bool(match["neg2"] or (match["neg1"] and match["neg1"] != "(") or match["neg3"] == "-")
    negative = negative or (match["neg1"] == "(" and match["neg3"] == ")")
    return -value if negative else value


def _parse_number(num: str, hint: str | None) -> Decimal | None:
    num = re.sub(r"[ '\u00a0\u202f]", "", num)
    separators = [c for c in num if c in ".,"]
    if not separators:
        return _decimal(num)
    last = separators[-1]
    head, _, tail = num.rpartition(last)
    if len(set(separators)) == 2 or separators.count(last) == 1 and not _looks_grouped(tail, last, hint):
        return _decimal(head.replace(".", "").replace(",", "") + "." + tail)
    # Only one kind of separator, repeated or grouping three digits: thousands.
    groups = num.split(last)[1:]
    if separators.count(last) > 1 and not all(len(g) == 3 for g in groups):
        if all(len(g) == 3 for g in groups[:-1]) and len(groups[-1]) == 2:
            # "1,994,95": OCR read the decimal point as a comma; groups of three are thousands.
            return _decimal(head.replace(last, "") + "." + tail)
        return None
    return _decimal(num.replace(last, ""))


def _looks_grouped(tail: str, separator: str, hint: str | None) -> bool:
    """Is a single separator followed by `tail` a thousands separator?"""
    if len(tail) != 3:
        return False
    return hint is None or hint != separator


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def detect_currency(text: str) -> str | None:
    """The ISO 4217 code a piece of text names: a code, a symbol or a word such as "pesos mexicanos".

    A bare "$" is USD. Returns the first currency found, or None.
    """
    lowered = text.lower()
    for words, code in DOLLAR_WORDS.items():
        if words in lowered:
            return code
    match = _CURRENCY_RE.search(text)
    if not match:
        return None
    token = match.group(0)
    return SYMBOLS.get(token, token.upper())


def document_currency(text: str) -> str | None:
    """The currency a whole document is written in: explicit codes and words beat a bare "$".

    A document that says "ARS" or "pesos" anywhere means ARS by its "$" signs.
    """
    lowered = text.lower()
    for words, code in DOLLAR_WORDS.items():
        if words in lowered:
            return code
    found = Counter(SYMBOLS.get(m.group(0), m.group(0).upper()) for m in _CURRENCY_RE.finditer(text))
    if not found:
        return None
    codes = [c for c, _ in found.most_common() if c != "USD" or not _bare_dollar_only(text)]
    return codes[0] if codes else "USD"


def _bare_dollar_only(text: str) -> bool:
    return re.search(r"(?<![A-Za-z])USD(?![A-Za-z])|US\$", text) is None and "$" in text


def decimal_separator(texts: list[str]) -> str | None:
    """ "," or "." as the document's decimal separator, judged on amounts that can only be read one way."""
    comma = dot = 0
    for text in texts:
        comma += len(_UNAMBIGUOUS_COMMA.findall(text))
        dot += len(_UNAMBIGUOUS_DOT.findall(text))
    if comma == dot:
        return None
    return "," if comma > dot else "."


def find_currency_token(text: str) -> str | None:
    """The currency marker inside one amount token (e.g. "$12" -> USD), if any."""
    match = _CURRENCY_RE.search(text)
    return SYMBOLS.get(match.group(0), match.group(0).upper()) if match else None


def is_number_like(text: str) -> bool:
    return _NUMBER_RE.fullmatch(text.strip()) is not None
