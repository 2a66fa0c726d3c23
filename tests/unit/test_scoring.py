"""Scoring candidates against expected items."""

import pytest
from angebae.ocr.scoring import auroc, field_agreement, match_pairs, matched_candidates, score


def _cand(name, price):
    return {"name": name, "price": price}


def test_a_candidate_counts_when_price_and_name_match_ignoring_case_and_accents():
    # GIVEN a candidate whose name differs only in case and accents, same price written differently
    result = score(
        [_cand("BOTELLA TERMICA acero 750 ml", "1546.250")],
        [{"name": "Botella térmica acero 750 ml", "price": "1546.25"}],
    )
    # THEN it is a true positive
    assert result == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0}


def test_a_name_containing_every_expected_token_matches():
    result = score(
        [_cand("[17589684] Beeswax XL Acme beeswax", "42.00")], [{"name": "Beeswax XL", "price": "42"}]
    )
    assert result["tp"] == 1


def test_a_wrong_price_or_a_different_name_does_not_match():
    expected = [{"name": "Linen throw pillow", "price": "92.95"}]
    assert score([_cand("Linen throw pillow", "92.96")], expected)["tp"] == 0
    assert score([_cand("Glazed ceramic mug", "92.95")], expected)["tp"] == 0


def test_a_price_printed_to_the_cent_matches_the_exact_one_and_half_similar_names_match():
    # GIVEN an e-invoice's exact unit price and name, and the page's rounded print of them
    expected = [
        {"name": "Wirkarbeit HT", "price": "0.052"},
        {"name": "Kopierpapier A4 weiss", "price": "4.10"},
    ]
    found = [_cand("Wirkarbeit", "0.05"), _cand("Kopierpapier A4", "4.0960")]
    # THEN both match, as the held-out evaluation counts them (to the cent, similarity >= 0.5)
    assert score(found, expected)["tp"] == 2
    assert score([_cand("Wirkarbeit", "0.06")], expected)["tp"] == 0


def test_matching_is_one_to_one():
    # GIVEN the same product proposed twice
    result = score([_cand("Mug", "5.00"), _cand("Mug", "5.00")], [{"name": "Mug", "price": "5.00"}])
    # THEN one candidate is a hit and the duplicate a false positive
    assert (result["tp"], result["fp"], result["fn"]) == (1, 1, 0)


def test_fee_and_discount_lines_are_not_expected_products():
    expected = [
        {"name": "Mate", "price": "10.00"},
        {"name": "Descuento 10%", "price": "-1.00", "line_type": "discount"},
    ]
    result = score([_cand("Mate", "10.00")], expected)
    assert (result["tp"], result["fp"], result["fn"], result["recall"]) == (1, 0, 0, 1.0)


def test_missing_and_extra_candidates_lower_recall_and_precision():
    expected = [{"name": "A product", "price": "1.00"}, {"name": "B product", "price": "2.00"}]
    result = score([_cand("A product", "1.00"), _cand("Total", "3.00")], expected)
    assert result["precision"] == 0.5 and result["recall"] == 0.5 and result["f1"] == 0.5


def test_match_pairs_index_the_original_items_and_skip_fee_lines():
    # GIVEN a fee line before the product in the expected items
    expected = [{"name": "Shipping", "price": "5.00", "line_type": "fee"}, {"name": "Mug", "price": "5.00"}]
    candidates = [_cand("Total", "10.00"), _cand("Mug", "5.00"), _cand("Shipping", "5.00")]
    # THEN the mug candidate pairs with item 1 and the fee line is never matched
    assert match_pairs(candidates, expected) == [(1, 1)]
    assert matched_candidates(candidates, expected) == [False, True, False]


def test_matched_candidates_agree_with_score():
    expected = [{"name": "Mug", "price": "5.00"}, {"name": "Glazed bowl", "price": "7.50"}]
    candidates = [_cand("Mug", "5.00"), _cand("Mug", "5.00"), _cand("glazed BOWL", "7.5")]
    flags = matched_candidates(candidates, expected)
    result = score(candidates, expected)
    assert sum(flags) == result["tp"] and flags.count(False) == result["fp"]


def test_field_agreement_compares_sku_ignoring_case_and_spaces_and_qty_as_decimals():
    expected = [
        {"name": "Mug", "price": "5.00", "sku": "ab-12", "qty": 2},
        {"name": "Bowl", "price": "7.00", "sku": "CD-34", "qty": "3"},
        {"name": "Plate", "price": "9.00", "sku": None, "qty": None},
        {"name": "Cup", "price": "1.00", "sku": "EF-56", "qty": 1},  # not found: not counted
    ]
    candidates = [
        {"name": "Mug", "price": "5.00", "sku": " AB-12 ", "qty": "2.000"},
        {"name": "Bowl", "price": "7.00", "sku": "CD-35", "qty": None},
        {"name": "Plate", "price": "9.00", "sku": "XX", "qty": "4"},
    ]
    assert field_agreement(candidates, expected) == {"sku_total": 2, "sku_ok": 1, "qty_total": 2, "qty_ok": 1}


def test_auroc_is_one_when_confidence_ranks_every_hit_above_every_miss():
    assert auroc([0.9, 0.8, 0.3, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0


def test_auroc_counts_ties_as_half():
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    # one positive above both negatives, the other tied with one negative: (1 + 1 + 1 + 0.5) / 4
    assert auroc([0.9, 0.4, 0.4, 0.1], [True, True, False, False]) == pytest.approx(0.875)


def test_auroc_is_undefined_without_both_classes():
    assert auroc([0.2, 0.9], [True, True]) is None
    assert auroc([], []) is None
