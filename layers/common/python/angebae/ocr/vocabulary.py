"""The words documents use, loaded from the data files in vocabulary/ (one per language).

Words are folded (lowercase, accents removed) and matched whole. Header words are a weighted hint
for what a column holds; `not_product` words mark totals, taxes, payments, fees and discounts;
`price_marks` say which of an old and a new price is which.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).with_name("vocabulary")


def fold(text: str) -> str:
    """Lowercase without accents."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Vocabulary:
    header: dict[str, str]  # folded word -> column kind (qty, sku, name, price, total, other)
    not_product: dict[str, str]  # folded word -> why (totals, tax, payment, fees, discount, document)
    stems: tuple[re.Pattern, ...]
    deposit_stems: tuple[re.Pattern, ...]  # compounds ("Flaschenpfand") that name a deposit
    units: frozenset[str]
    languages: tuple[str, ...]
    # Folded phrases printed right before a price that say it is the old one ("antes", "statt") or
    # the current one ("ahora", "jetzt"), as tuples of words.
    old_price_marks: frozenset[tuple[str, ...]] = frozenset()
    new_price_marks: frozenset[tuple[str, ...]] = frozenset()

    def header_kind(self, word: str) -> str | None:
        token = fold(word).strip(":()[].,")
        return self.header.get(token) or self.header.get(token.replace(".", "-").strip("-"))

    def not_product_reason(self, word: str) -> str | None:
        token = fold(word).strip("-")
        if token in self.not_product:
            return self.not_product[token]
        return "totals" if any(stem.search(token) for stem in self.stems) else None

    def is_deposit(self, name: str) -> bool:
        """A line named as a deposit ("Pfand", "Flaschenpfand", "Bottle deposit", "Statiegeld krat"):
        one of its first two words; a product that mentions one later ("Wasser mit Pfand") is none."""
        for token in re.findall(r"[a-z0-9-]+", fold(name))[:2]:
            if self.not_product.get(token) == "deposits" or any(s.search(token) for s in self.deposit_stems):
                return True
        return False


@functools.cache
def vocabulary() -> Vocabulary:
    """Every language's words together: a document's language is not known before it is read."""
    header: dict[str, str] = {}
    not_product: dict[str, str] = {}
    stems: list[re.Pattern] = []
    deposit_stems: list[re.Pattern] = []
    units: set[str] = set()
    marks: dict[str, set[tuple[str, ...]]] = {"old": set(), "new": set()}
    languages = []
    for path in sorted(FOLDER.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        languages.append(path.stem)
        for kind, words in data["header"].items():
            for word in words:
                header.setdefault(fold(word), kind)
        for reason, words in data["not_product"].items():
            for word in words:
                not_product.setdefault(fold(word), reason)
        stems.extend(re.compile(s) for s in data.get("stems", []))
        deposit_stems.extend(re.compile(s) for s in data.get("deposit_stems", []))
        units.update(fold(u) for u in data.get("units", []))
        for which, phrases in data.get("price_marks", {}).items():
            marks[which].update(tuple(fold(phrase).split()) for phrase in phrases)
    return Vocabulary(
        header,
        not_product,
        tuple(stems),
        tuple(deposit_stems),
        frozenset(units),
        tuple(languages),
        frozenset(marks["old"]),
        frozenset(marks["new"]),
    )
