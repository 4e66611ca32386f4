"""Amiri for ReportLab, with the glyphs every receipt uses embedded from a copy built once.

ReportLab's TTFont gives each document its own subsets of the font, numbered in
the order characters are first drawn, and builds them again for every
document: a TrueType file cut out of the 430 kB face, its widths, its ToUnicode
map, each deflated. That was about half of a receipt's time.

Here the first subset is the same in every document, so it is built and
deflated once per process: printable ASCII where ReportLab puts it, then the
Arabic presentation forms arabic_reshaper draws (every joining form of every
letter, the lam-alef ligatures and "الله"; it drops the harakat) and a few
signs. A character outside it (a Persian letter in a name, say) goes to a
second subset, made from the font as ReportLab makes it. Built subsets are
kept in a small LRU, so memory does not grow with the receipts; the fixed one
is always among them.

The price is size: the fixed subset has all of its glyphs, about 23 kB
deflated, where a receipt's own subset was about 17 kB.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.ttfonts import (
    FF_NONSYMBOLIC,
    FF_SYMBOLIC,
    SUBSETN,
    TTFont,
    makeToUnicodeCMap,
)

RECEIPT_ALPHABET: tuple[int, ...] = (
    *range(0xFE70, 0xFEFD),  # Arabic presentation forms B: what arabic_reshaper draws
    0xFBE8,  # alef maksura's initial and medial forms, which arabic_reshaper takes from forms A
    0xFBE9,
    0xFDF2,  # the ligature of "الله" (in "عبد الله"), the one ligature beyond lam-alef it makes
    0x060C,  # Arabic comma
    0x061B,  # Arabic semicolon
    0x061F,  # Arabic question mark
    0x0640,  # tatweel
    0x2022,  # bullet: the hidden digits of masked numbers
    0x2013,  # en dash
    0x2014,  # em dash: the daily report's title
)
"""Beyond printable ASCII, the characters of the subset every document embeds."""

_CACHED_SUBSETS = 16  # the fixed one, and a few second subsets that may recur (a report's)


class _Formatted(pdfdoc.PDFObject):
    """A PDF value formatted once (the widths array), written as it is into each document."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: pdfdoc.PDFDocument) -> bytes:
        return self.data


@dataclass(frozen=True, slots=True)
class _Built:
    """What a subset adds to a document, everything that does not depend on it done."""

    base_name: str
    widths: _Formatted
    to_unicode: bytes  # deflated
    font_file: bytes  # deflated
    font_file_length: int  # before deflating


def _deflated_stream(content: bytes, **entries: object) -> pdfdoc.PDFStream:
    # With /Filter already in the dictionary, ReportLab writes the content as it is.
    dictionary = pdfdoc.PDFDictionary(
        {"Filter": pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")]), **entries}
    )
    return pdfdoc.PDFStream(dictionary, content)


class PrebuiltTTFont(TTFont):
    """A TrueType font whose first subset holds `alphabet` and is built once.

    Like any TTFont, it keeps each document's subsets on itself: draw one
    document at a time (receipts.pdf.fonts.render_lock).
    """

    def __init__(self, name: str, filename: str, alphabet: Iterable[int]) -> None:
        super().__init__(name, filename, asciiReadable=1)
        have = self.face.charToGlyph
        # As ReportLab lays out a first subset: 0 the missing glyph, ASCII at its own codes.
        first = [0] * 32 + [code if code in have else 0 for code in range(32, 128)] + [0] * 128
        free = [slot for slot in range(1, 256) if first[slot] == 0 and slot != 32]
        extra = [code for code in dict.fromkeys(alphabet) if code in have and code >= 128]
        if len(extra) > len(free):
            raise ValueError(f"{len(extra)} characters do not fit the {len(free)} free codes.")
        for slot, code in zip(free, extra, strict=False):
            first[slot] = code
        while first[-1] == 0:
            first.pop()
        self.first_subset = tuple(first)
        self._assignments = {code: slot for slot, code in enumerate(first) if code in have}
        self._assignments[0] = 0
        self.built_subset = functools.lru_cache(maxsize=_CACHED_SUBSETS)(self._build_subset)
        self.built_subset(0, self.first_subset)

    def _state(self, doc: pdfdoc.PDFDocument) -> TTFont.State:
        try:
            return self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(False, None)
            state.assignments = dict(self._assignments)
            state.subsets = [list(self.first_subset)]
            state.nextCode = 256  # a character not assigned above opens the second subset
            return state

    def _assignState(self, doc, asciiReadable=None, namePrefix=None):  # noqa: N802 (ReportLab's name)
        self._state(doc)
        return super()._assignState(doc, asciiReadable, namePrefix)

    def splitString(self, text, doc, encoding="utf-8"):  # noqa: N802 (ReportLab's name)
        self._state(doc)
        return super().splitString(text, doc, encoding)

    def _build_subset(self, number: int, subset: tuple[int, ...]) -> _Built:
        face = self.face
        base_name = (SUBSETN(number) + b"+" + face.name + face.subfontNameX).decode("pdfdoc")
        widths = pdfdoc.PDFArray([face.getCharWidth(code) for code in subset])
        font_file = face.makeSubset(list(subset))
        return _Built(
            base_name=base_name,
            widths=_Formatted(pdfdoc.format(widths, None)),
            to_unicode=zlib.compress(makeToUnicodeCMap(base_name, subset).encode()),
            font_file=zlib.compress(font_file),
            font_file_length=len(font_file),
        )

    def addObjects(self, doc):  # noqa: N802 (ReportLab's name)
        """TTFont.addObjects, with each subset's font file, map and widths taken ready-made."""
        state = self._state(doc)
        state.frozen = 1
        face = self.face
        fonts = doc.idToObject["BasicFonts"].dict
        for number, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(number, doc)[1:]
            built = self.built_subset(number, tuple(subset))
            font_file = _deflated_stream(built.font_file, Length1=built.font_file_length)
            descriptor = pdfdoc.PDFDictionary(
                {
                    "Type": "/FontDescriptor",
                    "Ascent": face.ascent,
                    "CapHeight": face.capHeight,
                    "Descent": face.descent,
                    "Flags": (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC,
                    "FontBBox": pdfdoc.PDFArray(face.bbox),
                    "FontName": pdfdoc.PDFName(built.base_name),
                    "ItalicAngle": face.italicAngle,
                    "StemV": face.stemV,
                    "FontFile2": doc.Reference(
                        font_file, f"fontFile:{face.filename}({built.base_name})"
                    ),
                    "MissingWidth": face.defaultWidth,
                }
            )
            font = pdfdoc.PDFTrueTypeFont()
            font.Name = internal_name
            font.BaseFont = built.base_name
            font.FirstChar = 0
            font.LastChar = len(subset) - 1
            font.Widths = built.widths
            font.ToUnicode = doc.Reference(
                _deflated_stream(built.to_unicode), "toUnicodeCMap:" + built.base_name
            )
            font.FontDescriptor = doc.Reference(descriptor, "fontDescriptor:" + built.base_name)
            doc.Reference(font, internal_name)
            fonts[internal_name] = font
        del self.state[doc]
