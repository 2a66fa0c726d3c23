"""angebae.json_input: standard JSON only, a bounded depth, finite numbers, storable text."""

from __future__ import annotations

import pytest
from angebae import json_input
from angebae.errors import InvalidJson, ValidationFailed


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def test_nesting_up_to_the_bound_is_kept_and_one_more_level_is_400():
    assert json_input.loads(nested(json_input.MAX_DEPTH))
    with pytest.raises(InvalidJson, match="nested"):
        json_input.loads(nested(json_input.MAX_DEPTH + 1))


@pytest.mark.parametrize("depth", [999, 1000, 100_000])
def test_nesting_that_breaks_the_stdlib_parser_is_400_not_a_recursion_error(depth):
    with pytest.raises(InvalidJson):
        json_input.loads("[" * depth + "]" * depth)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e309"])
def test_numbers_json_cannot_hold_are_400(number):
    with pytest.raises(InvalidJson):
        json_input.loads(f'{{"attributes": {{"n": {number}}}}}')


def test_finite_numbers_and_big_integers_are_kept():
    assert json_input.loads('{"a": 1e308, "b": 123456789012345678901234567890}') == {
        "a": 1e308,
        "b": 123456789012345678901234567890,
    }


@pytest.mark.parametrize("text", ['{"a\\u0000": 1}', '{"a": ["\\ud800"]}'])
def test_text_postgresql_cannot_store_is_400_naming_the_field(text):
    with pytest.raises(ValidationFailed) as refused:
        json_input.loads(text)
    assert refused.value.details["fields"][0]["field"].startswith("a")
