"""Precision / recall of product candidates against a document's expected items.

A candidate matches an expected item when the prices are equal as decimals and the names match
closely: normalized (case, accents, punctuation) and either similar (difflib ratio >= 0.8) or one
containing every token of the other. Matching is one-to-one, best pairs first. Expected items with
a `line_type` (fees, discounts) are not products and are left out.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

NAME_RATIO = 0.8


def score(candidates: list[dict], expected_items: list[dict]) -> dict:
    expected = [item for item in expected_items if not item.get("line_type")]
    pairs = []
    for ci, cand in enumerate(candidates):
        for ei, item in enumerate(expected):
            similarity = match_strength(cand, item)
            if similarity is not None:
                pairs.append((similarity, ci, ei))
    used_c: set[int] = set()
    used_e: set[int] = set()
    for _, ci, ei in sorted(pairs, reverse=True):
        if ci not in used_c and ei not in used_e:
            used_c.add(ci)
            used_e.add(ei)
    tp = len(used_e)
    fp = len(candidates) - tp
    fn = len(expected) - tp
    precision = tp / (tp + fp) if tp + fp else (1.0 if not expected else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def match_strength(candidate: dict, item: dict) -> float | None:
    """How well a candidate matches an expected item (higher is better), None when it does not."""
    if not _same_price(candidate.get("price"), item.get("price")):
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


def _same_price(a, b) -> bool:
    try:
        return a is not None and b is not None and Decimal(str(a)) == Decimal(str(b))
    except InvalidOperation:
        return False
