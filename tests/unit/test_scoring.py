"""Scoring candidates against expected items."""

from angebae.ocr.scoring import score


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
