"""Opening documents: type sniffing, limits and clean failures, without Tesseract."""

from __future__ import annotations

import fixtures_docs as docs
import pymupdf
import pytest
from angebae.ocr.document import (
    DEFAULT_LIMITS,
    JPEG,
    PDF,
    PNG,
    TIFF,
    WEBP,
    DocumentError,
    Limits,
    _is_real_text,
    normalize_type,
    open_document,
    sniff_type,
)


def _error(data: bytes, declared: str | None = None, limits: Limits = DEFAULT_LIMITS) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        doc = open_document(data, declared, limits)
        for number in range(1, doc.page_count + 1):
            if doc.text_words(number) is None:
                doc.render(number, doc.render_dpi(number))
    return info.value


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: docs.native_pdf(), PDF),
        (lambda: docs.image_bytes("PNG"), PNG),
        (lambda: docs.image_bytes("JPEG"), JPEG),
        (lambda: docs.image_bytes("TIFF"), TIFF),
        (lambda: docs.image_bytes("WEBP"), WEBP),
        (lambda: b"oops\n", None),
        (lambda: b"", None),
    ],
)
def test_given_document_bytes_when_sniffed_then_type_comes_from_magic_bytes(make, expected):
    assert sniff_type(make()[:1024]) == expected


def test_given_declared_types_when_normalized_then_aliases_and_extensions_map_to_mime():
    assert normalize_type("image/jpg") == JPEG
    assert normalize_type(".JPG") == JPEG
    assert normalize_type("application/pdf; charset=binary") == PDF
    assert normalize_type("tif") == TIFF
    assert normalize_type(None) is None
    assert normalize_type("application/octet-stream") is None


def test_given_native_pdf_when_opened_then_text_layer_words_have_full_confidence_and_positions():
    doc = open_document(docs.native_pdf(), PDF)
    words = doc.text_words(1)
    assert words is not None
    assert [w.text for w in words[:3]] == ["Merino", "wool", "scarf"]
    assert all(w.confidence == 1.0 for w in words)
    first = words[0]
    x, y = docs.TEXT_ORIGIN
    assert abs(first.x0 - x) < 2 and first.y0 < y < first.y1
    assert doc.page_size(1) == (595, 842)


def test_given_scanned_pdf_when_opened_then_page_has_no_text_and_renders_gray_at_300_dpi():
    # a scan coarser than the render DPI limit (100 DPI: under min_scan_dpi) is upsampled to 300
    doc = open_document(docs.scanned_pdf(dpi=100), PDF)
    assert doc.text_words(1) is None
    dpi = doc.render_dpi(1)
    image = doc.render(1, dpi)
    assert dpi == 300
    assert (image.width, image.height) == (2480, 3509)
    assert len(image.pixels) == image.stride * image.height
    assert image.points_per_pixel == pytest.approx(72 / 300)


def test_given_a_200_dpi_scan_when_rendered_then_it_keeps_its_own_resolution():
    # GIVEN a page that is one 200 DPI scan; WHEN its render DPI is chosen
    doc = open_document(docs.scanned_pdf(dpi=200), PDF)
    # THEN it is the scan's own (upsampling blurs commas and costs OCR time); a 400 DPI scan gets 300
    assert doc.render_dpi(1) == pytest.approx(200, abs=1)
    assert open_document(docs.scanned_pdf(dpi=400), PDF).render_dpi(1) == 300


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_given_image_when_opened_then_one_page_rendered_at_native_size_in_points(fmt):
    doc = open_document(docs.image_bytes(fmt, dpi=200), None)
    assert doc.page_count == 1
    assert doc.text_words(1) is None
    image = doc.render(1, doc.render_dpi(1))
    width_pt, _ = doc.page_size(1)
    assert image.width == docs.page_pixmap(dpi=200).width  # never upscaled
    assert image.width * image.points_per_pixel == pytest.approx(width_pt)


def test_given_multipage_tiff_when_opened_then_each_frame_is_a_page():
    doc = open_document(docs.multipage_tiff(3), TIFF)
    assert doc.page_count == 3
    assert doc.render(3, doc.render_dpi(3)).width == 827


@pytest.mark.parametrize(
    ("make", "declared", "code"),
    [
        (lambda: b"", "application/pdf", "empty"),
        (lambda: b"oops\n", "application/pdf", "unsupported_type"),
        (lambda: docs.native_pdf(), "text/html", "unsupported_type"),
        (lambda: docs.image_bytes("PNG"), "image/jpeg", "type_mismatch"),
        (lambda: docs.image_bytes("WEBP"), "image/png", "type_mismatch"),
        (lambda: docs.native_pdf(), "image/png", "type_mismatch"),
        (docs.encrypted_pdf, "application/pdf", "encrypted"),
        (docs.header_only_pdf, "application/pdf", "corrupt"),
        (docs.zero_pages_pdf, "application/pdf", "no_pages"),
        (docs.truncated_jpeg, "image/jpeg", "corrupt"),
        (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png", "corrupt"),
    ],
)
def test_given_bad_document_when_opened_then_clean_document_error(make, declared, code):
    error = _error(make(), declared)
    assert error.code == code
    assert error.message and error.permanent


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.7])
def test_given_truncated_pdf_when_read_then_corrupt_not_blank_pages(fraction):
    assert _error(docs.truncated_pdf(fraction), PDF).code == "corrupt"


def test_given_file_over_byte_limit_when_opened_then_too_large():
    assert _error(docs.native_pdf(), PDF, Limits(max_bytes=100)).code == "too_large"


def test_given_more_pages_than_limit_when_opened_then_too_many_pages_before_any_page_is_read():
    error = _error(docs.native_pdf(pages=4), PDF, Limits(max_pages=3))
    assert error.code == "too_many_pages"
    assert "4 pages" in error.message


def test_given_huge_page_when_checked_then_page_too_large_without_rendering(monkeypatch):
    def no_render(*args, **kwargs):
        raise AssertionError("rendered a page that is over the pixel cap")

    monkeypatch.setattr(pymupdf.Page, "get_pixmap", no_render)
    doc = open_document(docs.huge_page_pdf(8400), PDF)
    with pytest.raises(DocumentError) as info:
        doc.render_dpi(1)
    assert info.value.code == "page_too_large"
    assert info.value.page == 1


def test_given_large_page_when_checked_then_rendered_at_reduced_dpi_within_pixel_cap():
    limits = Limits(max_pixels_per_page=4_000_000)
    doc = open_document(docs.huge_page_pdf(1200), PDF, limits)  # 25 megapixels at 300 DPI
    dpi = doc.render_dpi(1)
    image = doc.render(1, dpi)
    assert limits.min_dpi <= dpi < 300
    assert image.width * image.height <= limits.max_pixels_per_page
    assert image.width * image.points_per_pixel == pytest.approx(1200, rel=0.01)


def test_given_image_over_pixel_cap_when_checked_then_png_fails_and_jpeg_decodes_reduced():
    limits = Limits(max_pixels_per_page=1_000_000)  # the fixture page is 1654x2339 = 3.9 MP
    with pytest.raises(DocumentError) as info:
        open_document(docs.image_bytes("PNG"), PNG, limits).render_dpi(1)
    assert info.value.code == "page_too_large"
    doc = open_document(docs.image_bytes("JPEG"), JPEG, limits)
    image = doc.render(1, doc.render_dpi(1))
    assert image.width * image.height <= limits.max_pixels_per_page
    assert image.width * image.points_per_pixel == pytest.approx(doc.page_size(1)[0], rel=0.01)


def test_given_scan_with_small_digital_header_when_read_then_page_goes_to_ocr():
    doc = pymupdf.open(stream=docs.scanned_pdf(), filetype="pdf")
    doc[0].insert_text((72, 30), "Page 1 of 1", fontsize=9)
    assert open_document(doc.tobytes(), PDF).text_words(1) is None


def test_given_text_layer_of_replacement_characters_when_judged_then_not_real_text():
    rect = pymupdf.Rect(0, 0, 595, 842)
    assert not _is_real_text("\ufffd" * 300, [], rect)
    assert _is_real_text("Scarf 12.49", [], rect)


def test_given_a_phone_photo_with_exif_orientation_when_rendered_then_the_page_is_upright():
    # GIVEN a portrait page stored sideways, as phones store it, with EXIF orientation 6
    import io

    from PIL import Image

    upright = Image.new("L", (200, 300), 255)
    upright.paste(0, (0, 0, 200, 20))  # a dark band along the top edge of the upright page
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 300 x 200, the band on the left
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif, dpi=(72, 72))
    # WHEN it is opened and rendered
    doc = open_document(buffer.getvalue(), "image/jpeg")
    image = doc.render(1, doc.render_dpi(1))
    # THEN the page is portrait again, its size in points follows, and the band is on top
    assert (image.width, image.height) == (200, 300) and doc.page_size(1) == (200.0, 300.0)
    top_row = image.pixels[: image.width]
    assert max(top_row) < 60
