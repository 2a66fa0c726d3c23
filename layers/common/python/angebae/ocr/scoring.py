"""Precision / recall of product candidates against a document's expected items.

A candidate matches an expected item as the issue tracker's held-out evaluation matches them: the
unit prices are equal to the cent (a printed 0,05 is an e-invoice's 0.052) and the names, normalized
(case, accents, punctuation), are similar (difflib ratio >= 0.5) or one holds every token of the
other. Matching is one-to-one, best pairs first. Expected items with
a `line_type` (fees, discounts) are not products and are left out.

Beside `score`: `match_pairs` / `matched_candidates` (which candidates those matches are),
`field_agreement` (SKU and quantity agreement on the matches) and `auroc` (how well a candidate's
confidence separates matches from misses), for bench/score_candidates.py.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from difflib import SequenceMatcher

NAME_RATIO = 0.5
CENT = Decimal("0.01")


def score(candidates: list[dict], expected_items: list[dict]) -> dict:
    expected = [item for item in expected_items if not item.get("line_type")]
    tp = len(_pairs(candidates, expected))
    fp = len(candidates) - tp
    fn = len(expected) - tp
    precision = tp / (tp + fp) if tp + fp else (1.0 if not expected else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def match_pairs(candidates: list[dict], expected_items: list[dict]) -> list[tuple[int, int]]:
    """The one-to-one matches `score` counts, as (candidate index, index into expected_items).

    Items with a `line_type` are never matched; the list is sorted by candidate index.
    """
    products = [i for i, item in enumerate(expected_items) if not item.get("line_type")]
    pairs = _pairs(candidates, [expected_items[i] for i in products])
    return sorted((ci, products[ei]) for ci, ei in pairs)


def matched_candidates(candidates: list[dict], expected_items: list[dict]) -> list[bool]:
    """For each candidate, whether it matched an expected product (a true positive)."""
    hits = {ci for ci, _ in match_pairs(candidates, expected_items)}
    return [i in hits for i in range(len(candidates))]


def field_agreement(candidates: list[dict], expected_items: list[dict]) -> dict:
    """Of the matched pairs whose truth has a sku (qty), how many candidates carry the same one.

    SKUs compare case-insensitively without whitespace; quantities as decimals.
    Returns {"sku_total", "sku_ok", "qty_total", "qty_ok"}.
    """
    out = {"sku_total": 0, "sku_ok": 0, "qty_total": 0, "qty_ok": 0}
    for ci, ei in match_pairs(candidates, expected_items):
        cand, item = candidates[ci], expected_items[ei]
        if _sku_key(item.get("sku")):
            out["sku_total"] += 1
            out["sku_ok"] += _sku_key(cand.get("sku")) == _sku_key(item.get("sku"))
        if item.get("qty") is not None:
            out["qty_total"] += 1
            out["qty_ok"] += _same_decimal(cand.get("qty"), item.get("qty"))
    return out


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Area under the ROC curve of `scores` separating True from False labels.

    The probability that a random positive scores above a random negative (ties count half;
    Mann-Whitney U over average ranks). None when either class is empty.
    """
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average_rank = (start + end) / 2 + 1
        rank_sum += average_rank * sum(1 for i in order[start : end + 1] if labels[i])
        start = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _pairs(candidates: list[dict], expected: list[dict]) -> list[tuple[int, int]]:
    """Best pairs first, one-to-one: (candidate index, index into `expected`)."""
    pairs = []
    for ci, cand in enumerate(candidates):
        for ei, item in enumerate(expected):
            similarity = match_strength(cand, item)
            if similarity is not None:
                pairs.append((similarity, ci, ei))
    used_c: set[int] = set()
    used_e: set[int] = set()
    out = []
    for _, ci, ei in sorted(pairs, reverse=True):
        if ci not in used_c and ei not in used_e:
            used_c.add(ci)
            used_e.add(ei)
            out.append((ci, ei))
    return out


def match_strength(candidate: dict, item: dict) -> float | None:
    """How well a candidate matches an expected item (higher is better), None when it does not."""
    if not _same_cents(candidate.get("price"), item.get("price")):
        return None
    a, b = normalize_name(candidate.get("name") or ""), normalize_name(item.get("name") or "")
    if not a or not b:
        return None
    ratio = SequenceMatcher(None, a, b).ratio()
    if ratio >= NAME_RATIO or _contains_tokens(a, b):
        return ratio
    return None


def normalize_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def _contains_tokens(a: str, b: str) -> bool:
    shorter, longer = sorted((a.split(), b.split()), key=len)
    return set(shorter) <= set(longer)


def _sku_key(sku) -> str:
    return "".join(str(sku).split()).casefold() if sku is not None else ""


def _same_decimal(a, b) -> bool:
    try:
        return a is not None and b is not None and Decimal(str(a)) == Decimal(str(b))
    except InvalidOperation:
        return False


def _same_cents(a, b) -> bool:
    try:
        return (
            a is not None
            and b is not None
            and Decimal(str(a)).quantize(CENT, ROUND_HALF_UP) == Decimal(str(b)).quantize(CENT, ROUND_HALF_UP)
        )
    except InvalidOperation:
        return False
