"""The receipt as a PDF: an 80 mm thermal roll or an A4 page, drawn with ReportLab.

The receipt is first laid out as a list of blocks that know their height, so
that the roll's page is exactly as long as its content; then the blocks are
drawn. Everything is vector: text in the embedded Amiri font (Arabic and
Latin), the Code128 and the QR code as filled rectangles, so a 203 dpi thermal
head and a laser printer both get sharp edges.

`layout` holds the page formats and the blocks, `sections` what the receipt
says in them, `codes` the Code128 and the QR code, `fonts` the lock every PDF
of the app is drawn under; here, the drawing.
"""

from __future__ import annotations

import io
import math
import zlib
from datetime import UTC

from reportlab.pdfbase.pdfdoc import PDFStreamFilterZCompress
from reportlab.pdfgen.canvas import Canvas

from receipts.arabic import FONT, register_fonts, visual
from receipts.data import ReceiptData
from receipts.pdf.codes import _qr_codewords, code128_modules, qr_modules
from receipts.pdf.fonts import render_lock
from receipts.pdf.layout import BOLD_STROKE, LAYOUTS, LEADING, Layout, text_width
from receipts.pdf.sections import TITLES, compose

__all__ = [
    "LAYOUTS",
    "LEADING",
    "TITLES",
    "_qr_codewords",
    "code128_modules",
    "qr_modules",
    "render_receipt",
]

# Drawing --------------------------------------------------------------------


class _QuickDeflate(PDFStreamFilterZCompress):
    """Deflate at level 1, where ReportLab's page compression uses zlib's default, 6.

    The page stream of a roll receipt (text and the codes' rectangles, about
    12 kB) takes 0.15 ms instead of 0.55 ms and comes out some 600 bytes
    larger, which ReportLab's ASCII85 on top of level 6 (25% more, for 7-bit
    channels a receipt never goes through) gave back anyway.
    """

    def encode(self, text: str | bytes) -> bytes:
        return zlib.compress(text.encode() if isinstance(text, str) else text, 1)


_PAGE_FILTERS = [_QuickDeflate()]


def _void_watermark(c: Canvas, page_width: float, top: float, bottom: float) -> None:
    """ "VOID / ملغى" in large grey letters across the receipt, under the content.

    A long roll gets it once per stretch about as tall as the paper is wide,
    so that any part torn off still shows it. Light enough that the codes
    drawn over it still scan.
    """
    text = "VOID / " + visual("ملغى")
    height = top - bottom
    count = max(1, round(height / (page_width * 1.2)))
    tile = height / count
    angle = math.atan2(tile, page_width)
    cos, sin = math.cos(angle), math.sin(angle)
    length = text_width(text, 1)  # per point of size
    thick = 1.2  # the letters' height with Arabic ascenders, per point of size
    # The rotated text's bounding box must stay inside the page width and the tile.
    size = 0.9 * min(
        page_width / (length * cos + thick * sin), tile / (length * sin + thick * cos), 120
    )
    c.saveState()
    c.setFillGray(0.8)
    c.setStrokeGray(0.8)
    c.setLineWidth(size * BOLD_STROKE)
    c.setFont(FONT, size)
    for i in range(count):
        c.saveState()
        c.translate(page_width / 2, top - tile * (i + 0.5))
        c.rotate(math.degrees(angle))
        c.drawCentredString(0, -size * 0.3, text, mode=2)
        c.restoreState()
    c.restoreState()


def render_receipt(data: ReceiptData, *, layout: str = "roll") -> bytes:
    """The receipt as PDF bytes: layout "roll" (80 mm, as long as it needs) or "a4"."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown receipt layout {layout!r}; use 'roll' or 'a4'.")
    with render_lock:
        return _render(data, LAYOUTS[layout])


def _render(data: ReceiptData, spec: Layout) -> bytes:
    register_fonts()
    blocks = compose(data, spec)
    content = sum(block.height for block in blocks)
    page_height = spec.page_height or content + 2 * spec.end
    title_ar, title_en = TITLES[data.kind]

    buffer = io.BytesIO()
    # invariant: the same receipt gives the same bytes (a fixed document ID),
    # and the document's date is when the receipt was issued, not when drawn.
    c = Canvas(buffer, pagesize=(spec.page_width, page_height), pageCompression=0, invariant=1)
    c._doc.defaultStreamFilters = _PAGE_FILTERS  # the font's streams come deflated already
    issued = data.issued_at.astimezone(UTC)
    c.setDateFormatter(lambda *_now: f"D:{issued:%Y%m%d%H%M%S}+00'00'")
    c.setTitle(f"{title_en} {data.reference}")
    c.setAuthor(data.network_en)
    c.setSubject(f"{title_ar} {data.reference}")

    def start_page(remaining: float) -> float:
        top = page_height - spec.end
        if data.voided:
            _void_watermark(c, spec.page_width, top, max(spec.end, top - remaining))
        return top

    remaining = content
    top = start_page(remaining)
    for block in blocks:
        if top - block.height < spec.end - 0.01 and top < page_height - spec.end:
            c.showPage()  # A4 only: the roll's page was made to fit
            top = start_page(remaining)
        block.draw(c, spec.side, top, spec.width)
        top -= block.height
        remaining -= block.height
    c.showPage()
    c.save()
    return buffer.getvalue()
