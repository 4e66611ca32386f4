"""Arabic for ReportLab: shaped, laid right to left, wrapped by words.

ReportLab draws glyphs in the order it is given and knows nothing of Arabic
joining or direction, so text is reshaped (contextual presentation forms,
lam-alef ligatures) and reordered into visual order before it is drawn.

python-bidi 0.6 has two implementations: the top-level `bidi.get_display`
(Rust) does not mirror brackets, so "(EGP)" inside an Arabic line comes out as
")EGP("; the pure-Python `bidi.algorithm.get_display` applies rule L4
(mirroring) and keeps them right.

The font is Amiri from the `fontpkg-amiri` package (Arabic and Latin in one
face), embedded in every PDF, never looked up on the system or fetched.
"""

from __future__ import annotations

import functools
from importlib import resources

import arabic_reshaper
from bidi.algorithm import get_base_level, get_display
from reportlab.pdfbase import pdfmetrics

from receipts.font_embedding import RECEIPT_ALPHABET, PrebuiltTTFont

FONT = "Amiri"


@functools.cache
def register_fonts() -> None:
    """Register Amiri (regular) with ReportLab, once per process.

    Parsing the TTF takes tens of milliseconds; the registry is global, so the
    parsed face serves every later document, and so does the subset of it
    that every document embeds (receipts.font_embedding). (The package's
    Amiri-Bold.ttf is not used: see receipts.pdf.layout on bold.)
    """
    font = resources.files("fontpkg_amiri") / "files" / "Amiri-Regular.ttf"
    with resources.as_file(font) as path:
        pdfmetrics.registerFont(PrebuiltTTFont(FONT, str(path), RECEIPT_ALPHABET))


@functools.lru_cache(maxsize=4096)
def visual(text: str, *, base_dir: str | None = None) -> str:
    """`text` shaped and in visual (left-to-right drawing) order.

    `base_dir` ("L" or "R") forces the paragraph direction; by default the
    first strong character decides. Cached: labels, names and titles repeat
    from one receipt to the next.
    """
    if text.isascii() and base_dir != "R":
        return text  # nothing to shape and nothing to reorder
    return get_display(arabic_reshaper.reshape(text), base_dir=base_dir)


@functools.lru_cache(maxsize=4096)
def _shaped_width(word: str, font: str, size: float) -> float:
    # Joining never crosses a space, so a line's width is its words' widths
    # plus the spaces between them.
    shaped = word if word.isascii() else arabic_reshaper.reshape(word)
    return pdfmetrics.stringWidth(shaped, font, size)


def _split_long_word(word: str, font: str, size: float, width: float) -> list[str]:
    """Pieces of a word too wide for the line (a long reference or URL), each fitting."""
    pieces, current = [], ""
    if word.isascii():  # no shaping: widths add up, character by character
        current_width = 0.0
        for char in word:
            char_width = pdfmetrics.stringWidth(char, font, size)
            if current and current_width + char_width > width:
                pieces.append(current)
                current, current_width = "", 0.0
            current += char
            current_width += char_width
    else:
        for char in word:
            if current and _shaped_width(current + char, font, size) > width:
                pieces.append(current)
                current = char
            else:
                current += char
    pieces.append(current)
    return pieces


def wrap_visual(text: str, font: str, size: float, width: float) -> list[str]:
    """`text` wrapped to `width` points, each line in visual order.

    Wrapping happens in logical order (the first words on the first line),
    measuring the shaped words; only then is each line reordered, with the
    direction of the whole paragraph, so that a line that happens to start
    with a Latin word or a number still reads right to left. Cached, like
    `visual`: a receipt's labels and titles are wrapped the same every time.
    """
    return list(_wrapped(text, font, size, width))


@functools.lru_cache(maxsize=4096)
def _wrapped(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    words = []
    for word in text.split():
        if _shaped_width(word, font, size) > width + 1e-6:
            words.extend(_split_long_word(word, font, size, width))
        else:
            words.append(word)
    if not words:
        return ()
    base_dir = "R" if get_base_level(text) == 1 else "L"
    space = pdfmetrics.stringWidth(" ", font, size)
    limit = width + 1e-6  # a line measured exactly as wide as the column still fits
    lines: list[list[str]] = [[]]
    line_width = 0.0
    for word in words:
        word_width = _shaped_width(word, font, size)
        if lines[-1] and line_width + space + word_width > limit:
            lines.append([])
            line_width = 0.0
        line_width += (space if lines[-1] else 0.0) + word_width
        lines[-1].append(word)
    return tuple(visual(" ".join(line), base_dir=base_dir) for line in lines)
