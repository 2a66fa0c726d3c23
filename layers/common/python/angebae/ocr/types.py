"""Plain data passed between the document reader, the OCR engine and the candidate extractor."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float = 1.0  # 0..1; 1.0 for text-layer words
    block: int = 0
    line: int = 0


@dataclass(slots=True)
class Page:
    number: int  # 1-based
    width: float
    height: float
    words: list[Word]
    source: str  # "text" (PDF text layer) or "ocr" (Tesseract)
    seconds: float = 0.0

    @property
    def mean_confidence(self) -> float:
        return sum(w.confidence for w in self.words) / len(self.words) if self.words else 0.0

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(slots=True)
class Candidate:
    name: str
    price: Decimal | None
    currency: str | None
    sku: str | None
    qty: Decimal | None
    page: int
    bbox: tuple[float, float, float, float]
    confidence: float  # 0..1
    raw: str = ""
    attributes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["price"] = None if self.price is None else str(self.price)
        out["qty"] = None if self.qty is None else str(self.qty)
        out["bbox"] = list(self.bbox)
        return out
