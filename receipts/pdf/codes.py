"""The receipt's codes as modules: the Code128 of its number and the QR code of its URL."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from itertools import zip_longest

from barcode.charsets import code128 as code_sets
from barcode.codex import Code128
from reportlab.graphics.barcode import qrencoder

_START_C = code_sets.START_CODES["C"]


class _Code128(Code128):
    """python-barcode's Code128, without its bug on numbers that start with 99.

    It folds a start code followed by a code-set switch into one start code, and took
    the pair "99" right after Start C (in code set C the data 99, in A and B "switch to
    C") for a switch: 991234567893 was printed as the bars of 1234567893 (its issue
    #251, fixed in its pull request #263, not in a release as of 0.16.1).
    """

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        if encoded[:2] == [_START_C, 99]:
            return encoded
        return super()._try_to_optimize(encoded)


def code128_modules(reference: str) -> str:
    """The Code128 of `reference` as a string of modules, "1" a bar, without quiet zones."""
    return _Code128(reference, writer=None).build()[0]


# The QR code. reportlab's encoder chooses the mask by laying the whole symbol
# out again for each of the eight masks and scoring it with list code, and
# recomputes the Reed-Solomon generator polynomial every time: about 10 ms for
# a verification URL, as long as the rest of the receipt. Here the codewords
# come from a cached generator, the symbol is laid out once, each mask is an
# XOR over its data modules, the penalties are counted with bit operations,
# and only the format information is laid out again for the best mask.
# Since issue 14 the data bits are gathered in one int (not a call per bit),
# the Reed-Solomon remainder is one int updated from a table of the
# generator's multiples, and a version's function patterns are laid out once
# per process, the codewords' bits dropped into a copy: 0.5 ms a symbol
# where it was 1.5 (the same 2,000 URLs, back to back on the shared machine).
#
# Measured again when the package was split (1,000 verification URLs of the
# bench's length, each its own; a shared 2-core machine): the symbol alone
# takes 0.73 ms here, 6.4 ms with reportlab's encoder (what its QrCodeWidget
# computes; drawn as the widget's own rectangles, about 20 ms), 3.8 ms with
# segno 1.6.6 and 4.8 ms with qrcode 8.2; a whole roll receipt, median 4.7 ms
# here against 11.1, 8.2 and 9.0 ms. So the encoder stays; tests/receipts
# check it against reportlab's codewords and a plain ISO/IEC 18004 penalty,
# and that zbarimg reads it off the rendered page.

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


@functools.cache
def _rs_products(degree: int) -> tuple[int, ...]:
    """For each byte, the generator polynomial times it, as one int of `degree` bytes."""
    generator = _rs_generator(degree)
    return (
        0,
        *(
            int.from_bytes(bytes(_GF_EXP[coef_log + _GF_LOG[factor]] for coef_log in generator))
            for factor in range(1, 256)
        ),
    )


def _rs_remainder(data: Sequence[int], degree: int) -> list[int]:
    """The error correction codewords of `data`, the remainder held as one int of `degree` bytes."""
    products = _rs_products(degree)
    top, width = 8 * (degree - 1), (1 << (8 * degree)) - 1
    remainder = 0
    for byte in data:
        remainder = ((remainder << 8) & width) ^ products[byte ^ (remainder >> top)]
    return list(remainder.to_bytes(degree))


class _Bits:
    """QRBitBuffer for the data segments' `write`: the bits in one int, not a call for each."""

    __slots__ = ("length", "value")

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, num: int, length: int) -> None:
        self.value = (self.value << length) | (num & ((1 << length) - 1))
        self.length += length

    def putBit(self, bit: bool) -> None:  # noqa: N802 (QRBitBuffer's name)
        self.put(int(bit), 1)

    def getLengthInBits(self) -> int:  # noqa: N802 (QRBitBuffer's name)
        return self.length


def _qr_codewords(qr: qrencoder.QRCode) -> list[int]:
    """What reportlab's `QRCode.createData` gives (data and error correction, interleaved)."""
    blocks = qrencoder.QRRSBlock.getRSBlocks(qr.version, qr.errorCorrectLevel)
    capacity = sum(block.dataCount for block in blocks)
    bits = _Bits()
    for data in qr.dataList:
        data.write(bits, qr.version)
    if bits.length > capacity * 8:
        raise ValueError(f"Too long for a QR code of version {qr.version}.")
    if bits.length + 4 <= capacity * 8:
        bits.put(0, 4)  # the terminator
    bits.put(0, -bits.length % 8)  # the last byte padded with 0s
    codewords = list(bits.value.to_bytes(bits.length // 8))
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


@functools.cache
def _function_patterns(version: int) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """A symbol of `version` without its data, as bit rows and bit columns; and its data modules.

    The format information is left blank, as while choosing a mask; the data
    modules are given as (col, row) in the order the codewords' bits fill them.
    """
    qr = qrencoder.QRCode(version, qrencoder.QRErrorCorrectLevel.M)
    qr.dataCache = []  # no data: each data module gets only mask 0, cleared below
    qr.makeImpl(True, 0)
    positions = qr.dataPosIterator()
    for col, row in positions:
        qr.modules[row][col] = False
    rows = [_bits(line) for line in qr.modules]
    cols = [_bits(line) for line in zip(*qr.modules, strict=True)]
    return rows, cols, positions


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code of `text` at error correction M, as rows of modules (True: dark)."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(text)
    qr.version = qr.calculate_version()
    codewords = _qr_codewords(qr)
    count = qr.version * 4 + 17
    # The symbol with no mask: the function patterns, and the codewords' dark bits in place.
    template_rows, template_cols, positions = _function_patterns(qr.version)
    rows, cols = list(template_rows), list(template_cols)
    bits = format(int.from_bytes(bytes(codewords)), f"0{8 * len(codewords)}b")
    for (col, row), bit in zip(positions, bits, strict=False):  # the remainder bits stay light
        if bit == "1":
            rows[row] |= 1 << (count - 1 - col)
            cols[col] |= 1 << (count - 1 - row)
    plain_rows, plain_cols = _pack(rows, count), _pack(cols, count)
    mask_rows, packed_rows, packed_cols = _mask_layers(qr.version)

    def penalty(pattern: int) -> int:
        return _penalty(plain_rows ^ packed_rows[pattern], plain_cols ^ packed_cols[pattern], count)

    best = min(range(8), key=penalty)
    spec = f"0{count}b"
    qr.moduleCount = count
    qr.modules = [
        [bit == "1" for bit in format(row ^ m, spec)]
        for row, m in zip(rows, mask_rows[best], strict=True)
    ]
    qr.setupTypeInfo(False, best)
    if qr.version >= 7:
        qr.setupTypeNumber(False)
    return qr.modules
