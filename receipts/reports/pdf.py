"""The daily report as an A4 PDF, drawn with ReportLab in the reader's language.

Text goes through `receipts.arabic` (shaped, visual order, Amiri regular
embedded, the one face it registers: headings stand out by size and table
headers by their shading); in Arabic the tables read right to left, so their
columns are reversed.
Table cells are plain strings (never Paragraphs, whose own line breaking
would cut visual-order text in the wrong places); long names are wrapped
with `wrap_visual` first.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.clock import local_now
from core.money import format_amount
from receipts.arabic import FONT, register_fonts, visual, wrap_visual
from receipts.pdf.fonts import render_lock
from receipts.reports.data import DailyReport

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

BODY_SIZE = 9
MARGIN = 15 * mm
WIDTH = A4[0] - 2 * MARGIN


class _Page:
    """Paragraph styles and table building for one document's direction."""

    def __init__(self) -> None:
        self.rtl = get_language_bidi()
        align = TA_RIGHT if self.rtl else TA_LEFT
        self.title = ParagraphStyle(
            "title", fontName=FONT, fontSize=15, leading=20, alignment=align
        )
        self.heading = ParagraphStyle(
            "heading", fontName=FONT, fontSize=11, leading=16, alignment=align, spaceBefore=8
        )

    def paragraph(self, text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(escape(visual(text)), style)

    def cell(self, text: object, width: float | None = None) -> str:
        text = str(text)
        if width is None:
            return visual(text)
        return "\n".join(wrap_visual(text, FONT, BODY_SIZE, width - 6)) or ""

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        widths: Sequence[float],
        *,
        numeric: Sequence[int] = (),
        wrap: Sequence[int] = (),
        footer: Sequence[object] | None = None,
    ) -> Table:
        """A grid; `numeric` columns align to the end, `wrap` columns wrap long text."""

        def line(values: Sequence[object], *, wrapped: bool = True) -> list[str]:
            out = [
                self.cell(v, widths[i] if wrapped and i in wrap else None)
                for i, v in enumerate(values)
            ]
            return out[::-1] if self.rtl else out

        data = [line(header, wrapped=False), *(line(r) for r in rows)]
        if footer is not None:
            data.append(line(footer, wrapped=False))
        n = len(widths)
        col = (lambda i: n - 1 - i) if self.rtl else (lambda i: i)
        shade = colors.HexColor("#e9ecf2")
        style = [
            ("FONT", (0, 0), (-1, -1), FONT, BODY_SIZE),
            ("BACKGROUND", (0, 0), (-1, 0), shade),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa3b2")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (0, 0), (-1, -1), "RIGHT" if self.rtl else "LEFT"),
        ]
        for i in numeric:
            # Amounts line up on their last digit whatever the direction.
            style.append(("ALIGN", (col(i), 1), (col(i), -1), "RIGHT"))
        if footer is not None:
            style.append(("BACKGROUND", (0, -1), (-1, -1), shade))
        return Table(
            data,
            colWidths=list(widths[::-1] if self.rtl else widths),
            style=TableStyle(style),
            repeatRows=1,
        )


def _money(piastres: int) -> str:
    return format_amount(piastres)


def daily_report_pdf(report: DailyReport) -> bytes:
    """The daily report of `report.scope` on A4, in the active language."""
    register_fonts()
    page = _Page()
    buffer = io.BytesIO()
    title = _("Daily report — %(scope)s — %(day)s") % {
        "scope": report.scope_name,
        "day": report.day.isoformat(),
    }
    generated = local_now().strftime("%Y-%m-%d %H:%M")

    def footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        text = visual(_("Page %(page)s · printed %(when)s") % {"page": doc.page, "when": generated})
        canvas.drawCentredString(A4[0] / 2, 8 * mm, text)
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author="Postal Counter Network",
    )
    story = [page.paragraph(title, page.title), Spacer(1, 4 * mm)]

    summary = [
        (_("Payments"), report.payments.count, _money(report.payments.total)),
        *((method.label, f.count, _money(f.total)) for method, f in report.columns),
        (_("Owed to agencies"), "", _money(report.agencies_total)),
        (_("Post office commission"), "", _money(report.commission)),
        (_("Voided (not counted above)"), report.voids.count, _money(report.voids.total)),
    ]
    story.append(
        page.table(
            [_("Figure"), _("Count"), _("Amount (EGP)")],
            summary,
            [WIDTH * 0.5, WIDTH * 0.2, WIDTH * 0.3],
            numeric=(1, 2),
        )
    )

    story.append(page.paragraph(_("By service"), page.heading))
    # A column per payment method (counter.methods): the service's name gives way.
    n = len(report.columns)
    method_width = min(0.14, 0.42 / n)
    widths = [WIDTH * w for w in (0.14, 0.62 - n * method_width, 0.1)]
    widths += [WIDTH * method_width] * n + [WIDTH * 0.14]
    story.append(
        page.table(
            [
                _("Code"),
                _("Service"),
                _("Count"),
                *(method.column.label for method, _f in report.columns),
                _("Total (EGP)"),
            ],
            [
                (
                    r.code,
                    r.name,
                    r.count,
                    *(_money(f.total) for _m, f in r.columns),
                    _money(r.total),
                )
                for r in report.by_service
            ],
            widths,
            numeric=range(2, n + 4),
            wrap=(1,),
            footer=(
                "",
                _("Total"),
                report.payments.count,
                *(_money(f.total) for _m, f in report.columns),
                _money(report.payments.total),
            ),
        )
    )

    story.append(page.paragraph(_("By budget item"), page.heading))
    story.append(
        page.table(
            [_("Budget item"), _("Count"), _("Total (EGP)")],
            [(r.budget_item, r.count, _money(r.total)) for r in report.by_budget_item],
            [WIDTH * 0.5, WIDTH * 0.2, WIDTH * 0.3],
            numeric=(1, 2),
        )
    )

    story.append(page.paragraph(_("By agency"), page.heading))
    story.append(
        page.table(
            [_("Code"), _("Agency"), _("Payments"), _("Amount owed (EGP)")],
            [(r.code, r.name, r.payments, _money(r.total)) for r in report.by_agency],
            [WIDTH * 0.16, WIDTH * 0.44, WIDTH * 0.14, WIDTH * 0.26],
            numeric=(2, 3),
            wrap=(1,),
            footer=("", _("Total"), "", _money(report.agencies_total)),
        )
    )
    with render_lock:  # the font's subsets are shared with the receipts
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
