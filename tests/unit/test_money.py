"""Reading printed amounts and currencies."""

from decimal import Decimal

import pytest
from angebae.ocr.money import decimal_separator, detect_currency, document_currency, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.299,00", "1299.00"),
        ("1,299.00", "1299.00"),
        ("1299.00", "1299.00"),
        ("1299,00", "1299.00"),
        ("1 299,00", "1299.00"),
        ("$1,299", "1299"),
        ("12,50 €", "12.50"),
        ("€ 12,50", "12.50"),
        ("USD 59.95", "59.95"),
        ("59.95 USD", "59.95"),
        ("£1,529.50", "1529.50"),
        ("1.234.567,89", "1234567.89"),
        ("7", "7"),
    ],
)
def test_amounts_in_either_decimal_convention_read_as_the_same_value(text, expected):
    # GIVEN an amount as a Spanish or English document prints it
    # WHEN it is parsed
    # THEN its value does not depend on the convention
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["-12,10", "−12.10", "(12.10)", "12.10-", "-$12.10", "$-12.10"])
def test_negative_amounts_keep_their_sign(text):
    assert parse_amount(text) == Decimal("-12.10")


def test_a_lone_separator_before_three_digits_is_a_thousands_separator_without_a_hint():
    # GIVEN "1.299" or "1,299" and nothing known about the document
    # THEN both read as one thousand two hundred ninety-nine, as price lists print them
    assert parse_amount("1.299") == Decimal("1299")
    assert parse_amount("1,299") == Decimal("1299")


def test_the_document_decimal_separator_decides_an_ambiguous_amount():
    # GIVEN a document known to write decimals with a comma (or a point)
    # WHEN an amount has one separator followed by three digits
    # THEN the separator that is the document's decimal separator reads as decimals
    assert parse_amount("133,100", hint=",") == Decimal("133.100")
    assert parse_amount("1.299", hint=",") == Decimal("1299")
    assert parse_amount("1.299", hint=".") == Decimal("1.299")
    assert parse_amount("9,9000", hint=",") == Decimal("9.9")


def test_ocr_reading_a_decimal_point_as_a_comma_still_gives_the_amount():
    assert parse_amount("$1,994,95") == Decimal("1994.95")


@pytest.mark.parametrize("text", ["", "abc", "AB-1234", "12/03/2024", "1.2.3", "12%", "1,23,4"])
def test_text_that_is_not_one_amount_gives_none(text):
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("$ 12.00", "USD"),
        ("12,50 €", "EUR"),
        ("£4.00", "GBP"),
        ("Total ARS 1.200,00", "ARS"),
        ("precios en pesos mexicanos", "MXN"),
        ("MXN 99.00", "MXN"),
        ("US$ 5", "USD"),
        ("no money here", None),
    ],
)
def test_currency_is_detected_from_symbols_codes_and_words(text, code):
    assert detect_currency(text) == code


def test_a_bare_dollar_means_the_currency_the_document_names():
    # GIVEN a document printing "$" prices that says elsewhere it is in ARS
    # THEN the document's currency is ARS, not USD
    assert document_currency("Lista de precios ARS  Mate $ 1.200,00  Yerba $ 950,00") == "ARS"
    assert document_currency("Mug $12.00  Pen $1.50") == "USD"


def test_the_decimal_separator_is_judged_on_unambiguous_amounts():
    assert decimal_separator(["1.299,00", "12,50", "1.299"]) == ","
    assert decimal_separator(["1,299.00", "12.50", "1,299"]) == "."
    assert decimal_separator(["1.299"]) is None
