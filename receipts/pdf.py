"""The receipt as a PDF: an 80 mm thermal roll or an A4 page, drawn with ReportLab.

The receipt is first laid out as a list of blocks that know their height, so
that the roll's page is exactly as long as its content; then the blocks are
drawn. Everything is vector: text in the embedded Amiri font (Arabic and
Latin), the Code128 and the QR code as filled rectangles, so a 203 dpi thermal
head and a laser printer both get sharp edges.

Each row reads from both ends: the English label on the left, the Arabic label
on the right, the value between them.

Bold is the regular face with its outline stroked as well as filled (text
render mode 2), as a thermal printer's own emphasis does: embedding the bold
face too would cost a second font subset in every PDF, about 3 ms and 18 kB
a receipt, a third of the time budget.
"""

from __future__ import annotations

import functools
import io
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from itertools import zip_longest

import barcode
from reportlab.graphics.barcode import qrencoder
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from core.clock import local_time
from core.money import format_amount
from counter import methods
from receipts.arabic import FONT, register_fonts, visual, wrap_visual
from receipts.data import ReceiptData
from receipts.words import amount_in_words

TITLES = {
    "payment": ("إيصال سداد", "Payment receipt"),
    "void": ("إشعار إلغاء", "Void slip"),
    "top_up": ("إيصال شحن بطاقة", "Card top-up slip"),
}

LEADING = 1.5  # line height, in font sizes: Amiri's marks and descenders need room
BASELINE = 1.05  # from the top of a line to its baseline, in font sizes
BOLD_STROKE = 0.04  # the outline stroke of bold text, in font sizes
QUIET_CODE128 = 10  # modules of white either side (ISO/IEC 15417)
QUIET_QR = 4  # modules of white around the symbol (ISO/IEC 18004)


@dataclass(frozen=True)
class _Layout:
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
    "roll": _Layout(
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
    "a4": _Layout(
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


def _width(text: str, size: float) -> float:
    return stringWidth(text, FONT, size)


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
            c.setFont(FONT, t.size)
            x = left + t.x
            if t.align == "R":
                x -= _width(t.text, t.size)
            elif t.align == "C":
                x -= _width(t.text, t.size) / 2
            if t.bold:
                c.setLineWidth(t.size * BOLD_STROKE)
                c.drawString(x, y, t.text, mode=2)  # fill, then stroke the outline
            else:
                c.drawString(x, y, t.text)
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
    blocks: list[_Block]
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

    columns: tuple[_Block, ...]
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.height = max(block.height for block in self.columns)

    def draw(self, c: Canvas, left: float, top: float, width: float) -> None:
        column = width / len(self.columns)
        for i, block in enumerate(self.columns):
            block.draw(c, left + i * column, top - (self.height - block.height) / 2, column)


_Block = _Line | _Space | _Code128 | _QR | _Stack | _Beside


# Codes ----------------------------------------------------------------------


def code128_modules(reference: str) -> str:
    """The Code128 of `reference` as a string of modules, "1" a bar, without quiet zones."""
    return barcode.get_barcode_class("code128")(reference, writer=None).build()[0]


# The QR code. reportlab's encoder chooses the mask by laying the whole symbol
# out again for each of the eight masks and scoring it with list code, and
# recomputes the Reed-Solomon generator polynomial every time: about 10 ms for
# a verification URL, as long as the rest of the receipt. Here the codewords
# come from a cached generator, the symbol is laid out once, each mask is an
# XOR over its data modules, the penalties are counted with bit operations,
# and only the format information is laid out again for the best mask.

_GF_EXP = [0] * 512  # GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1
_GF_LOG = [0] * 256
_value = 1
for _i in range(255):
    _GF_EXP[_i] = _value
    _GF_LOG[_value] = _i
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _i in range(255, 512):
    _GF_EXP[_i] = _GF_EXP[_i - 255]


@functools.cache
def _rs_generator(degree: int) -> tuple[int, ...]:
    """Logs of the generator polynomial's coefficients after the leading 1."""
    poly = [1]
    for i in range(degree):  # times (x - a^i)
        nxt = [*poly, 0]
        for j, coef in enumerate(poly):
            if coef:
                nxt[j + 1] ^= _GF_EXP[_GF_LOG[coef] + i]
        poly = nxt
    return tuple(_GF_LOG[coef] for coef in poly[1:])


def _rs_remainder(data: Sequence[int], degree: int) -> list[int]:
    generator = _rs_generator(degree)
    remainder = [0] * degree
    for byte in data:
        factor = byte ^ remainder[0]
        del remainder[0]
        remainder.append(0)
        if factor:
            log = _GF_LOG[factor]
            for j, coef_log in enumerate(generator):
                remainder[j] ^= _GF_EXP[coef_log + log]
    return remainder


def _qr_codewords(qr: qrencoder.QRCode) -> list[int]:
    """What reportlab's `QRCode.createData` gives (data and error correction, interleaved)."""
    blocks = qrencoder.QRRSBlock.getRSBlocks(qr.version, qr.errorCorrectLevel)
    capacity = sum(block.dataCount for block in blocks)
    buffer = qrencoder.QRBitBuffer()
    for data in qr.dataList:
        data.write(buffer, qr.version)
    if buffer.getLengthInBits() > capacity * 8:
        raise ValueError(f"Too long for a QR code of version {qr.version}.")
    if buffer.getLengthInBits() + 4 <= capacity * 8:
        buffer.put(0, 4)  # the terminator
    codewords = buffer.buffer  # putBit fills whole bytes: the last one is padded with 0s
    pads = (qrencoder.QRCode.PAD0, qrencoder.QRCode.PAD1)
    codewords += [pads[i % 2] for i in range(capacity - len(codewords))]
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        data_blocks.append(codewords[offset : offset + block.dataCount])
        offset += block.dataCount
        ec_blocks.append(_rs_remainder(data_blocks[-1], block.totalCount - block.dataCount))
    return [
        codeword
        for group in (data_blocks, ec_blocks)
        for column in zip_longest(*group)
        for codeword in column
        if codeword is not None
    ]


_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
GUARD = 4  # light bits either side of each packed line: the quiet zone, for N3


def _bits(line: Iterable[bool]) -> int:
    """A line of modules as an int, the first module the highest bit."""
    return int(bytes(line).translate(_DIGITS), 2)


def _pack(lines: Sequence[int], count: int) -> int:
    """Lines of `count` bits packed into one int, each with GUARD light bits either side."""
    stride = count + 2 * GUARD
    packed = 0
    for i, line in enumerate(lines):
        packed |= line << (i * stride + GUARD)
    return packed


@functools.cache
def _penalty_masks(count: int) -> tuple[int, int, int]:
    """Bits where a module has a right neighbour, where a 2 x 2 block starts, where 11 bits fit."""
    stride = count + 2 * GUARD
    pair = block = window = 0
    for i in range(count):
        pair |= ((1 << (count - 1)) - 1) << (i * stride + GUARD)
        window |= ((1 << (stride - 10)) - 1) << (i * stride)
    for i in range(count - 1):
        block |= ((1 << (count - 1)) - 1) << (i * stride + GUARD)
    return pair, block, window


@functools.cache
def _mask_layers(version: int) -> tuple[list[list[int]], list[int], list[int]]:
    """For each of the 8 masks, the modules it flips: as bit rows, and packed rows and columns."""
    qr = qrencoder.QRCode(version, qrencoder.QRErrorCorrectLevel.M)
    count = version * 4 + 17
    qr.moduleCount = count
    positions = qr.dataPosIterator()  # (col, row) of every data module; depends on the version
    rows, packed_rows, packed_cols = [], [], []
    for pattern in range(8):
        flips = qrencoder.QRUtil.getMask(pattern)
        grid = [[False] * count for _ in range(count)]
        for col, row in positions:
            grid[row][col] = flips(row, col)
        rows.append([_bits(line) for line in grid])
        packed_rows.append(_pack(rows[-1], count))
        packed_cols.append(_pack([_bits(line) for line in zip(*grid, strict=True)], count))
    return rows, packed_rows, packed_cols


def _penalty(rows: int, cols: int, count: int) -> int:
    """The ISO/IEC 18004 mask penalty of a symbol given as packed rows and packed columns.

    N1: 3 + (length - 5) for each run of 5 or more modules of one colour;
    N2: 3 for each 2 x 2 block of one colour; N3: 40 for each 1:1:3:1:1
    finder-like pattern with 4 light modules on one side; N4: 10 for each 5%
    that the dark modules are away from half. All with bit operations on the
    whole symbol at once.
    """
    pair, block, window = _penalty_masks(count)
    stride = count + 2 * GUARD
    score = 0
    for packed in (rows, cols):
        same = ~(packed ^ (packed >> 1)) & pair  # a module and its neighbour alike
        four = same & (same >> 1) & (same >> 2) & (same >> 3)  # 5 modules alike from here
        score += four.bit_count() + 2 * (four & ~(four << 1)).bit_count()
        for finder in ("00001011101", "10111010000"):
            found = window
            for k, bit in enumerate(finder):
                found &= (packed >> k) if bit == "1" else ~(packed >> k)
            score += 40 * found.bit_count()
    same = ~(rows ^ (rows >> 1))
    same_down = ~(rows ^ (rows >> stride))
    score += 3 * (same & same_down & (same_down >> 1) & block).bit_count()
    total = count * count
    return score + 10 * (abs(20 * rows.bit_count() - 10 * total) // total)


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code of `text` at error correction M, as rows of modules (True: dark)."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(text)
    qr.version = qr.calculate_version()
    qr.dataCache = _qr_codewords(qr)
    qr.makeImpl(True, 0)  # blank format information, as while choosing a mask
    count = qr.moduleCount
    mask_rows, packed_rows, packed_cols = _mask_layers(qr.version)
    # The symbol with no mask: mask 0 undone.
    rows = [_bits(line) ^ m for line, m in zip(qr.modules, mask_rows[0], strict=True)]
    plain_rows = _pack(rows, count)
    plain_cols = _pack([_bits(line) for line in zip(*qr.modules, strict=True)], count)
    plain_cols ^= packed_cols[0]

    def penalty(pattern: int) -> int:
        return _penalty(plain_rows ^ packed_rows[pattern], plain_cols ^ packed_cols[pattern], count)

    best = min(range(8), key=penalty)
    spec = f"0{count}b"
    qr.modules = [
        [bit == "1" for bit in format(row ^ m, spec)]
        for row, m in zip(rows, mask_rows[best], strict=True)
    ]
    qr.setupTypeInfo(False, best)
    if qr.version >= 7:
        qr.setupTypeNumber(False)
    return qr.modules


# Layout ---------------------------------------------------------------------


def _centred(parts: Sequence[tuple[str, float, bool]], centre: float) -> list[_Text]:
    """Texts (visual order, size, bold) set one after another, left to right, centred on `centre`.

    Drawing the English and the Arabic of a bilingual line as separate texts
    keeps each in its own direction: run through the bidi algorithm together,
    an Arabic part with brackets inside a left-to-right line loses them.
    """
    widths = [_width(text, size) for text, size, _ in parts]
    x = centre - sum(widths) / 2
    texts = []
    for (text, size, bold), width in zip(parts, widths, strict=True):
        texts.append(_Text(text, x, "L", size, bold))
        x += width
    return texts


class _Composer:
    """Turns the rows of a receipt into blocks of known height."""

    def __init__(self, layout: _Layout):
        self.layout = layout
        self.width = layout.width
        self.gap = layout.size * 0.8
        self.blocks: list[_Block] = []
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
        if sum(_width(text, size) for text, _, _ in parts) > self.width:
            self.paragraph(ar, align="C", size=size, bold=bold)
            self.paragraph(en, align="C", size=size, bold=bold)
        else:
            self.line(_centred(parts, self.width / 2), size)

    def sides(self, en: str, ar: str, *, size: float | None = None, bold: bool = False) -> None:
        """English from the left and Arabic from the right: on one line if both fit, else on two."""
        size = size or self.layout.size
        shown = visual(ar)
        if _width(en, size) + _width(shown, size) + 3 * self.gap > self.width:
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
        value_width = _width(shown, size)
        en_width, ar_width = _width(en, size), _width(ar_shown, size)
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
            widest_label = max(widest_label, _width(visual(ar), size))
            widest_amount = max(widest_amount, _width(format_amount(amount), size))
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


def _compose(data: ReceiptData, layout: _Layout) -> list[_Block]:
    try:
        title_ar, title_en = TITLES[data.kind]
    except KeyError:
        raise ValueError(f"Unknown receipt kind {data.kind!r}.") from None
    out = _Composer(layout)
    size, small = layout.size, layout.small
    issued = local_time(data.issued_at)

    out.paragraph(data.network_ar, align="C", bold=True)
    out.paragraph(data.network_en, align="C", size=small)
    out.paragraph(data.branch_ar, align="C", bold=True)
    out.paragraph(data.branch_en, align="C")
    out.space()
    out.paragraph(title_ar, align="C", size=layout.title, bold=True)
    out.paragraph(title_en, align="C", size=layout.title, bold=True)
    if data.preview:
        out.space()
        out.banner("PREVIEW", "معاينة", "Not a receipt", "ليس إيصالًا")
    elif data.copy_number > 0:
        out.space()
        n = data.copy_number
        out.banner("COPY", "نسخة", f"Copy no. {n}", f"النسخة رقم {n}")
    if data.voided:
        out.space()
        out.banner("VOID", "ملغى", "This receipt is void", "هذا الإيصال ملغى")
    out.rule()

    out.pair("Receipt no.", "رقم الإيصال", data.reference)
    out.pair("Date", "التاريخ", f"{issued:%Y-%m-%d %H:%M}")
    out.pair("Branch code", "كود المكتب", data.branch_code)
    out.pair("Counter", "الشباك", str(data.counter_number))
    out.pair("Agent", "الموظف", data.agent_name)
    if data.payment_reference:
        out.pair("Voided receipt", "الإيصال الملغى", data.payment_reference, bold=True)
    if data.citizen_name or data.national_id_masked:
        out.rule()
        if data.citizen_name:
            out.pair("Citizen", "المواطن", data.citizen_name)
        if data.national_id_masked:
            out.pair("National ID", "الرقم القومي", data.national_id_masked)

    if data.service_ar or data.service_en or data.agency_ar or data.agency_en or data.references:
        out.rule()
    if data.service_ar or data.service_en:
        out.sides(f"Service: {data.service_en}", f"الخدمة: {data.service_ar}", bold=True)
    if data.agency_ar or data.agency_en:
        out.sides(f"Agency: {data.agency_en}", f"الجهة: {data.agency_ar}")
    if data.budget_item:
        out.pair("Budget item", "البند", data.budget_item)
    for label_ar, label_en, value in data.references:
        out.pair(label_en, label_ar, value)

    settle: list[tuple[str, str, int]] = []
    if data.tendered is not None:
        settle.append(("Paid", "المبلغ المدفوع", data.tendered))
    if data.change is not None:
        settle.append(("Change", "الباقي", data.change))
    if data.card_balance_after is not None:
        settle.append(("Balance after", "الرصيد بعد العملية", data.card_balance_after))
    out.amounts_column(
        [(line.label_ar, line.amount, size) for line in data.lines]
        + [("الإجمالي", data.total, layout.title)]
        + [(ar, amount, size) for _, ar, amount in settle]
    )
    out.rule()
    if data.lines:
        out.sides("Fees (EGP)", "الرسوم (ج.م)", size=small)
        for line in data.lines:
            out.amount(line.label_en, line.label_ar, line.amount)
        out.space(0.3)
    out.amount("Total (EGP)", "الإجمالي", data.total, bold=True, size=layout.title)
    out.space(0.3)
    total_words = abs(data.total)
    out.sides(amount_in_words(total_words, "en"), amount_in_words(total_words, "ar"), size=small)

    out.rule()
    method_en, method_ar = methods.get(data.method).receipt_labels()
    out.pair("Payment method", "طريقة الدفع", f"{method_en} / {method_ar}")
    if data.card_masked:
        out.pair("Card", "البطاقة", data.card_masked)
    for en, ar, amount in settle:
        out.amount(en, ar, amount)

    out.rule()
    out.space()
    out.codes(data.reference, data.verify_url)
    out.paragraph("امسح الرمز للتحقق من صحة الإيصال", align="C", size=small)
    out.paragraph("Scan the code to check that this receipt is genuine", align="C", size=small)
    out.paragraph(data.verify_url, align="C", size=small)
    out.space()
    out.bilingual("Keep this receipt", "احتفظ بهذا الإيصال", size=small)
    return out.blocks


# Drawing --------------------------------------------------------------------


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
    length = _width(text, 1)  # per point of size
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


# ReportLab's TrueType fonts keep each document's glyph subsets on the shared font
# object, so two receipts rendered at once in two threads (Django runs sync views in
# several threads under ASGI) corrupt each other's subset (a KeyError in makeSubset,
# seen under load). Rendering is CPU-bound under the GIL anyway: one at a time.
_render_lock = threading.Lock()


def render_receipt(data: ReceiptData, *, layout: str = "roll") -> bytes:
    """The receipt as PDF bytes: layout "roll" (80 mm, as long as it needs) or "a4"."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown receipt layout {layout!r}; use 'roll' or 'a4'.")
    with _render_lock:
        return _render(data, LAYOUTS[layout])


def _render(data: ReceiptData, spec) -> bytes:
    register_fonts()
    blocks = _compose(data, spec)
    content = sum(block.height for block in blocks)
    page_height = spec.page_height or content + 2 * spec.end
    title_ar, title_en = TITLES[data.kind]

    buffer = io.BytesIO()
    # invariant: the same receipt gives the same bytes (a fixed document ID),
    # and the document's date is when the receipt was issued, not when drawn.
    c = Canvas(buffer, pagesize=(spec.page_width, page_height), pageCompression=1, invariant=1)
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
