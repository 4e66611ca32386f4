"""The receipt's layout: its two page formats, and blocks of text and codes of known height.

Each row reads from both ends: the English label on the left, the Arabic label
on the right, the value between them.

Bold is the regular face with its outline stroked as well as filled (text
render mode 2), as a thermal printer's own emphasis does: embedding the bold
face too would cost a second font subset in every PDF, about 3 ms and 18 kB
a receipt, a third of the time budget.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

from reportlab.lib.pagesizes import A4
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.pdfgen.canvas import Canvas

from core.money import format_amount
from receipts.arabic import FONT, visual, wrap_visual
from receipts.pdf.codes import code128_modules, qr_modules

LEADING = 1.5  # line height, in font sizes: Amiri's marks and descenders need room
BASELINE = 1.05  # from the top of a line to its baseline, in font sizes
BOLD_STROKE = 0.04  # the outline stroke of bold text, in font sizes
QUIET_CODE128 = 10  # modules of white either side (ISO/IEC 15417)
QUIET_QR = 4  # modules of white around the symbol (ISO/IEC 18004)


@dataclass(frozen=True)
class Layout:
    page_width: float
    page_height: float | None  # None: as long as the content (the roll)
    side: float  # left and right margin
    end: float  # top and bottom margin
    size: float  # body text
    small: float
    title: float
    banner: float
    module: float  # Code128 module width
    bar_height: float
    qr_size: float  # the QR symbol with its quiet zone
    codes_beside: bool  # the Code128 and the QR side by side, or one under the other

    @property
    def width(self) -> float:
        return self.page_width - 2 * self.side


LAYOUTS = {
    # 72 mm printable on 80 mm paper; a Code128 module of 3 dots at 203 dpi.
    "roll": Layout(
        page_width=80 * mm,
        page_height=None,
        side=4 * mm,
        end=4 * mm,
        size=8.5,
        small=7,
        title=11,
        banner=13,
        module=0.375 * mm,
        bar_height=11 * mm,
        qr_size=30 * mm,
        codes_beside=False,
    ),
    "a4": Layout(
        page_width=A4[0],
        page_height=A4[1],
        side=30 * mm,
        end=15 * mm,
        size=10.5,
        small=8.5,
        title=14,
        banner=17,
        module=0.5 * mm,
        bar_height=15 * mm,
        qr_size=36 * mm,
        codes_beside=True,
    ),
}


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size: float) -> float:
    """The width of `text` in points; cached, as labels are measured on every receipt."""
    return stringWidth(text, FONT, size)


def _show(c: Canvas, x: float, y: float, text: str, size: float, mode: int = 0) -> None:
    """What `c.drawString(x, y, text, mode)` writes for the embedded font, written directly.

    ReportLab makes a text object for each string and formats it in several
    passes, about 25 us a string: a roll receipt draws 70, a third of its
    time. The operators are the same (place, render mode, subset and size,
    show), the font's splitString still gives the characters their codes in
    this document's subsets, and a render mode set is reset as ReportLab does.
    """
    font, doc = getFont(FONT), c._doc
    ops = [f"BT 1 0 0 1 {fp_str(x, y)} Tm"]
    if mode:
        ops.append(f"{mode} Tr")
    tf = f"{fp_str(size)} Tf"
    for subset, chunk in font.splitString(text, doc):
        ops.append(f"{font.getSubsetInternalName(subset, doc)} {tf} ({escapePDF(chunk)}) Tj")
    if mode:
        ops.append("0 Tr")
    ops.append("ET")
    c.addLiteral(" ".join(ops))


# Blocks ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    text: str  # in visual order
    x: float  # from the content's left edge
    align: str  # "L", "C" or "R": x is the text's left edge, centre or right edge
    size: float
    bold: bool = False


@dataclass(slots=True)
class _Line:
    texts: tuple[_Text, ...]
    height: float
    baseline: float
    inverse: bool = False  # white on black

    def draw(self, c: Canvas, left: float, top: float, width: float) -> None:
        if self.inverse:
            # A hair taller than the line, so stacked banner lines show no seam.
            c.rect(left - 1, top - self.height - 0.5, width + 2, self.height + 1, stroke=0, fill=1)
            c.setFillGray(1)
            c.setStrokeGray(1)
        y = top - self.baseline
        for t in self.texts:
            x = left + t.x
            if t.align == "R":
                x -= text_width(t.text, t.size)
            elif t.align == "C":
                x -= text_width(t.text, t.size) / 2
            if t.bold:
                c.setLineWidth(t.size * BOLD_STROKE)
                _show(c, x, y, t.text, t.size, mode=2)  # fill, then stroke the outline
            else:
                _show(c, x, y, t.text, t.size)
        if self.inverse:
            c.setFillGray(0)
            c.setStrokeGray(0)


@dataclass(slots=True)
class _Space:
    height: float
    rule: bool = False  # a dashed line across, halfway down

    def draw(self, c: Canvas, left: float, top: float, width: float) -> None:
        if self.rule:
            y = top - self.height / 2
            c.saveState()
            c.setLineWidth(0.5)
            c.setDash(2, 1.5)
            c.line(left, y, left + width, y)
            c.restoreState()


def _fill_runs(c: Canvas, x: float, y: float, sx: float, sy: float, runs: Iterable[str]) -> None:
    """Fill rectangles given in module units ("x y w h re") as one path, scaled from (x, y).

    One fill of one path: no hairline seams between neighbouring modules, and
    small integers in the page stream instead of four decimals per module.
    """
    c.saveState()
    c.transform(sx, 0, 0, sy, x, y)
    c.addLiteral(" ".join(runs) + " f")
    c.restoreState()


@dataclass(slots=True)
class _Code128:
    modules: str  # "1" for a bar module, "0" for a space, quiet zones included
    module: float
    height: float

    def draw(self, c: Canvas, left: float, top: float, width: float) -> None:
        x0 = left + (width - len(self.modules) * self.module) / 2
        bars = re.finditer("1+", self.modules)
        runs = (f"{bar.start()} 0 {bar.end() - bar.start()} 1 re" for bar in bars)
        _fill_runs(c, x0, top - self.height, self.module, self.height, runs)


@dataclass(slots=True)
class _QR:
    modules: list[list[bool]]  # rows, top first
    height: float  # and width: the symbol with its quiet zone

    def draw(self, c: Canvas, left: float, top: float, width: float) -> None:
        count = len(self.modules)
        module = self.height / (count + 2 * QUIET_QR)
        x0 = left + (width - self.height) / 2 + QUIET_QR * module
        y0 = top - (QUIET_QR + count) * module  # the symbol's bottom left corner
        runs = []
        for r, row in enumerate(self.modules):
            y = count - 1 - r
            line = bytes(row)
            for run in re.finditer(b"\x01+", line):
                runs.append(f"{run.start()} {y} {run.end() - run.start()} 1 re")
        _fill_runs(c, x0, y0, module, module, runs)


@dataclass(slots=True)
class _Stack:
    blocks: list[Block]
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.height = sum(block.height for block in self.blocks)

    def draw(self, c: Canvas, left: float, top: float, width: float) -> None:
        for block in self.blocks:
            block.draw(c, left, top, width)
            top -= block.height


@dataclass(slots=True)
class _Beside:
    """Blocks side by side in equal columns, each centred vertically."""

    columns: tuple[Block, ...]
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.height = max(block.height for block in self.columns)

    def draw(self, c: Canvas, left: float, top: float, width: float) -> None:
        column = width / len(self.columns)
        for i, block in enumerate(self.columns):
            block.draw(c, left + i * column, top - (self.height - block.height) / 2, column)


Block = _Line | _Space | _Code128 | _QR | _Stack | _Beside


# Layout ---------------------------------------------------------------------


def _centred(parts: Sequence[tuple[str, float, bool]], centre: float) -> list[_Text]:
    """Texts (visual order, size, bold) set one after another, left to right, centred on `centre`.

    Drawing the English and the Arabic of a bilingual line as separate texts
    keeps each in its own direction: run through the bidi algorithm together,
    an Arabic part with brackets inside a left-to-right line loses them.
    """
    widths = [text_width(text, size) for text, size, _ in parts]
    x = centre - sum(widths) / 2
    texts = []
    for (text, size, bold), width in zip(parts, widths, strict=True):
        texts.append(_Text(text, x, "L", size, bold))
        x += width
    return texts


class Composer:
    """Turns the rows of a receipt into blocks of known height."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.width = layout.width
        self.gap = layout.size * 0.8
        self.blocks: list[Block] = []
        self.amount_right = self.width * 0.6  # the right edge of the amounts column
        self.amount_width = 0.0  # the widest amount

    def _line(self, texts: Iterable[_Text], size: float, inverse: bool = False) -> _Line:
        return _Line(tuple(texts), size * LEADING, size * BASELINE, inverse)

    def line(self, texts: Iterable[_Text], size: float, inverse: bool = False) -> None:
        self.blocks.append(self._line(texts, size, inverse))

    def space(self, lines: float = 0.5) -> None:
        self.blocks.append(_Space(self.layout.size * lines))

    def rule(self) -> None:
        self.blocks.append(_Space(self.layout.size, rule=True))

    def paragraph(
        self, text: str, *, align: str, size: float | None = None, bold: bool = False
    ) -> None:
        """`text` wrapped to the width: align "R" for Arabic, "L" for English, "C" centred."""
        size = size or self.layout.size
        x = {"L": 0.0, "C": self.width / 2, "R": self.width}[align]
        for line in wrap_visual(text, FONT, size, self.width):
            self.line([_Text(line, x, align, size, bold)], size)

    def bilingual(self, en: str, ar: str, *, size: float | None = None, bold: bool = False) -> None:
        """ "English / العربية" centred on one line, or on two when it does not fit."""
        size = size or self.layout.size
        parts = [(en, size, bold), (" / ", size, bold), (visual(ar), size, bold)]
        if sum(text_width(text, size) for text, _, _ in parts) > self.width:
            self.paragraph(ar, align="C", size=size, bold=bold)
            self.paragraph(en, align="C", size=size, bold=bold)
        else:
            self.line(_centred(parts, self.width / 2), size)

    def sides(self, en: str, ar: str, *, size: float | None = None, bold: bool = False) -> None:
        """English from the left and Arabic from the right: on one line if both fit, else on two."""
        size = size or self.layout.size
        shown = visual(ar)
        if text_width(en, size) + text_width(shown, size) + 3 * self.gap > self.width:
            self.paragraph(ar, align="R", size=size, bold=bold)
            self.paragraph(en, align="L", size=size, bold=bold)
        else:
            self.line(self._ends(en, shown, size, bold), size)

    def banner(self, en_mark: str, ar_mark: str, en: str, ar: str) -> None:
        """A white-on-black band: the mark large in both languages, then a line in both."""
        big, size = self.layout.banner, self.layout.size
        marks = [(en_mark, big, True), (" / ", big, True), (visual(ar_mark), big, True)]
        self.line(_centred(marks, self.width / 2), big, inverse=True)
        ends = [_Text(en, 2, "L", size, True), _Text(visual(ar), self.width - 2, "R", size, True)]
        self.line(ends, size, inverse=True)

    def _ends(self, en: str | None, ar: str | None, size: float, bold: bool) -> list[_Text]:
        """English at the left edge, Arabic (already visual) at the right edge."""
        texts = []
        if en:
            texts.append(_Text(en, 0, "L", size, bold))
        if ar:
            texts.append(_Text(ar, self.width, "R", size, bold))
        return texts

    def pair(self, en: str, ar: str, value: str, *, bold: bool = False) -> None:
        """A label in both languages and its value (bold) between them.

        The value is centred on the line when the labels leave room, between
        the labels when not, and under them when the three do not fit.
        """
        size = self.layout.size
        shown, ar_shown = visual(value), visual(ar)
        value_width = text_width(shown, size)
        en_width, ar_width = text_width(en, size), text_width(ar_shown, size)
        if en_width + value_width + ar_width + 2 * self.gap > self.width:
            half = (self.width - self.gap) / 2
            en_lines = wrap_visual(en, FONT, size, half)
            ar_lines = wrap_visual(ar, FONT, size, half)
            for en_line, ar_line in zip_longest(en_lines, ar_lines):
                self.line(self._ends(en_line, ar_line, size, bold), size)
            for line in wrap_visual(value, FONT, size, self.width):
                self.line([_Text(line, self.width / 2, "C", size, True)], size)
            return
        if max(en_width, ar_width) + self.gap <= (self.width - value_width) / 2:
            centre = self.width / 2
        else:
            centre = (en_width + self.width - ar_width) / 2
        texts = self._ends(en, ar_shown, size, bold)
        texts.append(_Text(shown, centre, "C", size, True))
        self.line(texts, size)

    def amounts_column(self, rows: Iterable[tuple[str, int, float]]) -> None:
        """Place the amounts column so that the widest Arabic label (up to 45%) fits right of it.

        `rows` are (Arabic label, amount, size) of every amount row to come.
        """
        widest_label, widest_amount = 0.0, 0.0
        for ar, amount, size in rows:
            widest_label = max(widest_label, text_width(visual(ar), size))
            widest_amount = max(widest_amount, text_width(format_amount(amount), size))
        self.amount_right = self.width - min(widest_label, self.width * 0.45) - self.gap
        self.amount_width = widest_amount

    def amount(
        self, en: str, ar: str, amount: int, *, bold: bool = False, size: float | None = None
    ) -> None:
        """A label in both languages and an amount, right-aligned in the amounts column."""
        size = size or self.layout.size
        en_lines = wrap_visual(en, FONT, size, self.amount_right - self.amount_width - self.gap)
        ar_lines = wrap_visual(ar, FONT, size, self.width - self.amount_right - self.gap)
        for i, (en_line, ar_line) in enumerate(zip_longest(en_lines, ar_lines)):
            texts = self._ends(en_line, ar_line, size, bold)
            if i == 0:
                texts.append(_Text(format_amount(amount), self.amount_right, "R", size, bold))
            self.line(texts, size)

    def codes(self, reference: str, url: str) -> None:
        """The Code128 of the receipt number over its digits, and the QR code of the URL.

        Side by side on A4, one under the other on the roll.
        """
        layout, size = self.layout, self.layout.size
        column = self.width / 2 if layout.codes_beside else self.width
        modules = code128_modules(reference)
        module = min(layout.module, column / (len(modules) + 2 * QUIET_CODE128))
        quiet = "0" * QUIET_CODE128
        bars = _Stack(
            [
                _Code128(quiet + modules + quiet, module, layout.bar_height),
                self._line([_Text(reference, column / 2, "C", size, True)], size),
            ]
        )
        qr_size = min(layout.qr_size, column)
        qr = _QR(qr_modules(url), qr_size)
        if layout.codes_beside:
            self.blocks.append(_Beside((bars, qr)))
        else:
            self.blocks += [bars, _Space(size * 0.5), qr]
