"""Malformed and hostile documents, written byte by byte (PDF objects, TIFF IFDs) or cut from good ones.

`MALFORMED`: documents a reader must refuse, each with the code its job ends failed with.
`TOLERATED`: damage MuPDF or Pillow repairs without losing anything: read as usual, in bounded time.
"""

from __future__ import annotations

import io
import struct
import zlib

import fixtures_docs as docs

PDF, TIFF, PNG, JPEG, WEBP = "application/pdf", "image/tiff", "image/png", "image/jpeg", "image/webp"

CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
ONE_PAGE = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
    b" /Resources << /Font << /F1 5 0 R >> %s>> >>"
)
TEXT = b"BT /F1 12 Tf 72 720 Td (Tornillo hexagonal 12,50 EUR) Tj ET"
HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def stream(body: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(body), extra, body)


def raw_pdf(objects: dict[int, bytes], *, tail: bytes = b"") -> bytes:
    """A PDF of these numbered objects with a correct xref table; `tail` is appended after it."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref, size = len(out), max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets.get(n, 0) for n in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out) + tail


def page_pdf(
    *,
    contents: bytes | None = None,
    font: bytes = HELVETICA,
    resources: bytes = b"",
    more: dict[int, bytes] | None = None,
) -> bytes:
    """One text page; each part replaceable by a broken one."""
    return raw_pdf(
        {1: CATALOG, 2: ONE_PAGE, 3: PAGE % resources, 4: contents or stream(TEXT), 5: font, **(more or {})}
    )


def page_tree_loop() -> bytes:
    """Pages whose kid is their own parent, counting 5 pages: MuPDF's "Invalid number of pages"."""
    return raw_pdf(
        {
            1: CATALOG,
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 5 >>",
            3: b"<< /Type /Pages /Kids [2 0 R] /Count 5 /Parent 2 0 R >>",
        }
    )


def page_tree_self_kid() -> bytes:
    return raw_pdf({1: CATALOG, 2: b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"})


def page_count_negative() -> bytes:
    return page_pdf().replace(b"/Count 1", b"/Count -1")


def xref_loop() -> bytes:
    """An incremental update whose /Prev points at itself: the original xref is never reached."""
    base = page_pdf()
    offset = len(base)
    return base + (
        b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\n"
        b"startxref\n%d\n%%%%EOF\n" % (offset, offset)
    )


def truncated_content_stream() -> bytes:
    packed = zlib.compress(TEXT * 50, 9)
    return page_pdf(contents=stream(packed[: len(packed) // 3], b"/Filter /FlateDecode "))


def nested_arrays_in_content() -> bytes:
    return page_pdf(contents=stream(b"[" * 100_000 + b"]" * 100_000 + TEXT))


def nested_arrays_in_resources() -> bytes:
    return page_pdf(resources=b"/X " + b"[" * 100_000 + b"]" * 100_000 + b" ")


def contents_array_loop() -> bytes:
    """/Contents is an array holding itself."""
    return page_pdf(more={6: b"[6 0 R 4 0 R]"}).replace(b"/Contents 4 0 R", b"/Contents 6 0 R")


def font_reference_loop() -> bytes:
    return page_pdf(font=b"5 0 R")


def type3_font_drawing_itself() -> bytes:
    return page_pdf(
        font=b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 10 10]"
        b" /FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << /a 6 0 R >>"
        b" /Encoding << /Differences [32 /a] >> /FirstChar 32"
        b" /LastChar 126 /Widths [] /Resources << /Font << /F1 5 0 R >> >> >>",
        more={6: stream(b"1000 0 d0 BT /F1 12 Tf (a) Tj ET")},
    )


def cid_font_loop() -> bytes:
    """A Type0 font whose descendant font is itself."""
    return page_pdf(
        font=b"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /DescendantFonts [5 0 R] >>"
    )


def _tiff_frames(count: int) -> tuple[bytearray, list[int]]:
    from PIL import Image

    img = Image.new("L", (40, 40), 255)
    out = io.BytesIO()
    img.save(out, "TIFF", save_all=True, append_images=[img] * (count - 1))
    data = bytearray(out.getvalue())
    offsets, offset = [], struct.unpack("<I", data[4:8])[0]
    while offset and offset not in offsets:
        offsets.append(offset)
        entries = struct.unpack("<H", data[offset : offset + 2])[0]
        offset = struct.unpack("<I", data[offset + 2 + 12 * entries : offset + 6 + 12 * entries])[0]
    return data, offsets


def _point_last_ifd_at(data: bytearray, offsets: list[int], target: int) -> None:
    last = offsets[-1]
    entries = struct.unpack("<H", data[last : last + 2])[0]
    data[last + 2 + 12 * entries : last + 6 + 12 * entries] = struct.pack("<I", target)


def tiff_ifd_loop_into_garbage() -> bytes:
    """Frame 2's IFD, emptied of its entries, points back at frame 1."""
    data, offsets = _tiff_frames(2)
    _point_last_ifd_at(data, offsets, offsets[0])
    data[offsets[1] + 2 : offsets[1] + 14] = b"\x00" * 12
    return bytes(data)


def tiff_ifd_loop() -> bytes:
    """Frame 3's next IFD is frame 2: Pillow counts each frame once."""
    data, offsets = _tiff_frames(3)
    _point_last_ifd_at(data, offsets, offsets[1])
    return bytes(data)


def tiff_ifd_beyond_the_file() -> bytes:
    data, _ = _tiff_frames(1)
    data[4:8] = struct.pack("<I", 10**9)
    return bytes(data)


def png_bad_header_crc() -> bytes:
    data = bytearray(docs.image_bytes("PNG"))
    data[29] ^= 0xFF  # inside IHDR's CRC
    return bytes(data)


def _cut(data: bytes, keep: int) -> bytes:
    return data[:keep]


MALFORMED = {  # name -> (bytes, declared type, code)
    "page-tree-loop": (page_tree_loop, PDF, "corrupt"),
    "page-tree-self-kid": (page_tree_self_kid, PDF, "corrupt"),
    "page-count-negative": (page_count_negative, PDF, "corrupt"),
    "xref-prev-loop": (xref_loop, PDF, "corrupt"),
    "truncated-pdf": (docs.truncated_pdf, PDF, "corrupt"),
    "truncated-content-stream": (truncated_content_stream, PDF, "corrupt"),
    "nested-arrays-in-content": (nested_arrays_in_content, PDF, "corrupt"),
    "nested-arrays-in-resources": (nested_arrays_in_resources, PDF, "corrupt"),
    "contents-array-loop": (contents_array_loop, PDF, "corrupt"),
    "font-reference-loop": (font_reference_loop, PDF, "corrupt"),
    "type3-font-drawing-itself": (type3_font_drawing_itself, PDF, "corrupt"),
    "cid-font-loop": (cid_font_loop, PDF, "corrupt"),
    "tiff-ifd-loop-into-garbage": (tiff_ifd_loop_into_garbage, TIFF, "corrupt"),
    "tiff-ifd-beyond-the-file": (tiff_ifd_beyond_the_file, TIFF, "corrupt"),
    "truncated-png": (lambda: _cut(docs.image_bytes("PNG"), 3000), PNG, "corrupt"),
    "png-bad-header-crc": (png_bad_header_crc, PNG, "corrupt"),
    "truncated-jpeg": (docs.truncated_jpeg, JPEG, "corrupt"),
    "truncated-webp": (lambda: _cut(docs.image_bytes("WEBP"), 2000), WEBP, "corrupt"),
    "truncated-tiff": (
        lambda: _cut(docs.image_bytes("TIFF"), len(docs.image_bytes("TIFF")) // 2),
        TIFF,
        "corrupt",
    ),
}

TOLERATED = {  # name -> (bytes, declared type, pages read)
    "stream-length-too-long": (
        lambda: page_pdf(contents=b"<< /Length 99999 >>\nstream\n" + TEXT + b"\nendstream"),
        PDF,
        1,
    ),
    "stream-length-refers-to-itself": (
        lambda: page_pdf(contents=b"<< /Length 4 0 R >>\nstream\n" + TEXT + b"\nendstream"),
        PDF,
        1,
    ),
    "form-xobject-drawing-itself": (
        lambda: page_pdf(
            contents=stream(b"/X Do " + TEXT),
            resources=b"/XObject << /X 6 0 R >> ",
            more={
                6: stream(
                    b"/X Do",
                    b"/Type /XObject /Subtype /Form /BBox [0 0 10 10]"
                    b" /Resources << /XObject << /X 6 0 R >> >> ",
                )
            },
        ),
        PDF,
        1,
    ),
    "font-that-is-no-dictionary": (lambda: page_pdf(font=b"(not a font)"), PDF, 1),
    "tiff-ifd-loop": (tiff_ifd_loop, TIFF, 3),
}


# --- content that costs far more to read than to send (RELIABILITY 15, issue 13.1) -----------------


def _deflate_repeated(chunk: bytes, times: int, *, head: bytes = b"", tail: bytes = b"") -> bytes:
    """zlib data of head + chunk * times + tail, made without ever holding it inflated: after a full
    flush deflate forgets its window, so each further copy of `chunk` compresses to the same bytes."""
    packer = zlib.compressobj(9)
    out = [packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)]
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    out += [block] * times
    out.append(packer.compress(tail) + packer.flush())  # its checksum is wrong: MuPDF only warns
    return b"".join(out)


def _flate_page_pdf(packed: bytes, *, pages: int = 1) -> bytes:
    """`pages` pages that all draw the one flate content stream `packed`."""
    kids = b" ".join(b"%d 0 R" % (10 + n) for n in range(pages))
    objects = {
        1: CATALOG,
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        4: stream(packed, b"/Filter /FlateDecode "),
        5: HELVETICA,
    }
    for n in range(pages):
        objects[10 + n] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>"
        )
    return raw_pdf(objects)


def glyph_bomb(glyphs: int = 60_000_000, *, pages: int = 1) -> bytes:
    """A few KB of PDF whose content stream shows `glyphs` glyphs (one string of them)."""
    chunk = b"a" * 1_000_000
    return _flate_page_pdf(
        _deflate_repeated(chunk, glyphs // len(chunk), head=b"BT /F1 1 Tf 10 10 Td (", tail=b") Tj ET"),
        pages=pages,
    )


def whitespace_bomb(gib: int = 4) -> bytes:
    """A content stream of `gib` GiB of spaces around one line of text."""
    chunk = b" " * (64 << 20)
    return _flate_page_pdf(_deflate_repeated(chunk, gib * 16, head=TEXT))


GLYPHS = b"BT /F1 1 Tf 10 10 Td (abcdefghij) Tj ET"
LINES = b"0 0 m 10 10 l 20 0 l 30 10 l S q Q"


def nested_form_bomb(depth: int = 8, fanout: int = 10, leaf: bytes = GLYPHS) -> bytes:
    """Form XObjects that each draw the one below `fanout` times: a few hundred bytes of content,
    fanout ** depth leaves to draw (ten glyphs each by default, no glyph with LINES: only time)."""
    objects = {1: CATALOG, 2: ONE_PAGE, 5: HELVETICA}
    form = b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >>%s >> "
    objects[20] = stream(leaf, form % b"")
    for level in range(1, depth):
        body = b" ".join([b"/X Do"] * fanout)
        objects[20 + level] = stream(body, form % (b" /XObject << /X %d 0 R >>" % (20 + level - 1)))
    objects[3] = PAGE % (b"/XObject << /X %d 0 R >> " % (20 + depth - 1))
    objects[4] = stream(b" ".join([b"/X Do"] * fanout))
    return raw_pdf(objects)
