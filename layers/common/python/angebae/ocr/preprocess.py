"""Pixels made easier for Tesseract before OCR: a photographed page's uneven lighting evened out.

A phone photo of a receipt is lit from one side, shaded by the hand or the phone, and lies on a
table: its paper goes from white to mid gray across the page. Tesseract binarises each page with
one global (Otsu) threshold, so text on the shaded part falls below it and whole lines are lost.
Dividing the page by an estimate of its own background (a blur wider than any glyph) makes the
paper one white again, the classic flat-field correction. Measured with bench/score_candidates.py
(see the README): pages whose paper is already even (scans, renders) are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LightingSettings:
    # The background is the page blurred over this width: wider than strokes and glyphs (receipt
    # text is about 0.06 in high), narrower than a shadow's edge. 0.13 in is 40 px at 300 DPI.
    blur_inches: float = 0.13
    # The estimate of whether lighting is uneven runs on the page shrunk this many times (fast).
    probe_reduction: int = 8
    # Paper whose background varies by at most this many gray levels between its 2nd and 98th
    # percentile is left alone: renders vary by 0, a scanned receipt of the shared samples by 15,
    # their phone photos by 56 and 123.
    max_even_spread: int = 24


SETTINGS = LightingSettings()


def background_spread(gray, dpi: float, settings: LightingSettings = SETTINGS) -> int:
    """Gray levels between the darkest and brightest background (2nd/98th percentile) of `gray`."""
    from PIL import ImageFilter

    factor = max(1, min(settings.probe_reduction, gray.width // 64, gray.height // 64))
    small = gray.reduce(factor) if factor > 1 else gray
    width = settings.blur_inches * dpi / factor
    # The paper is the brightest thing around any point: a max filter wider than a glyph takes the
    # ink out, so a page dense with text does not look unevenly lit.
    paper = small.filter(ImageFilter.MaxFilter(2 * int(width) + 1))
    histogram = paper.filter(ImageFilter.GaussianBlur(max(1.0, width))).histogram()
    return _percentile(histogram, 0.98) - _percentile(histogram, 0.02)


def even_lighting(gray, dpi: float, settings: LightingSettings = SETTINGS):
    """`gray` (a PIL "L" image at `dpi`) divided by its blurred self when its lighting is uneven;
    else `gray` itself."""
    if background_spread(gray, dpi, settings) <= settings.max_even_spread:
        return gray
    from PIL import ImageFilter, ImageMath

    background = gray.filter(ImageFilter.GaussianBlur(max(1.0, settings.blur_inches * dpi)))
    flat = ImageMath.lambda_eval(
        lambda px: px["page"] * 255 / (px["background"] + 1),
        page=gray.convert("F"),
        background=background.convert("F"),
    )
    return flat.convert("L")  # values over 255 (paper brighter than its surroundings) clip to white


def _percentile(histogram: list[int], share: float) -> int:
    wanted, seen = share * sum(histogram), 0
    for level, count in enumerate(histogram):
        seen += count
        if seen >= wanted:
            return level
    return len(histogram) - 1
