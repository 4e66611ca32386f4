"""The font every PDF embeds: the receipt's alphabet built once per process, the rest each time."""

import re
import zlib
from concurrent.futures import ThreadPoolExecutor

import arabic_reshaper
from reportlab.lib.rl_accel import asciiBase85Decode
from reportlab.pdfbase import pdfmetrics

from receipts.arabic import FONT, register_fonts
from receipts.pdf import render_receipt
from tests.receipts.test_pdf import drawn as drawn  # a fixture
from tests.receipts.test_pdf import needs_poppler, receipt, text_of

# Persian letters have no presentation forms in the receipt's alphabet; nor have accented Latin.
PERSIAN = "پریا چگونه"
ACCENTED = "José Núñez"


def font():
    register_fonts()
    return pdfmetrics.getFont(FONT)


def streams(pdf: bytes) -> list[tuple[bytes, bytes]]:
    """Every stream of the PDF: its dictionary and its content inflated."""
    found = []
    for obj in re.findall(rb"\d+ 0 obj\n(.*?)endobj", pdf, re.S):
        dictionary, stream, content = obj.partition(b"stream\n")
        if stream:
            content = content.removesuffix(b"endstream\n")
            if b"ASCII85Decode" in dictionary:
                content = asciiBase85Decode(content)
            found.append(
                (dictionary, zlib.decompress(content) if b"Flate" in dictionary else content)
            )
    return found


def mapped_characters(pdf: bytes) -> set[str]:
    """The characters the ToUnicode maps of the PDF's font subsets give their codes."""
    characters = set()
    for _dictionary, content in streams(pdf):
        if b"beginbfchar" in content:
            for code in re.findall(rb"<[0-9A-F]{2}> <([0-9A-F]{4})>", content):
                characters.add(chr(int(code, 16)))
    return characters


def subsets(pdf: bytes) -> list[bytes]:
    return re.findall(rb"/BaseFont /([A-Z]{6})\+Amiri-Regular", pdf)


def shaped_forms(letter: str) -> set[str]:
    """What arabic_reshaper draws for `letter` alone, first, in the middle and last in a word."""
    words = [letter, letter + "ب", "ب" + letter + "ب", "ب" + letter]
    return {char for word in words for char in arabic_reshaper.reshape(word)}


def test_every_form_of_every_arabic_letter_is_in_the_subset_built_once():
    # The letters of Arabic (U+063B to U+063F are Persian and other languages' letters).
    letters = [chr(code) for code in [*range(0x0621, 0x063B), *range(0x0641, 0x064B)]]
    drawn_forms = set().union(*(shaped_forms(letter) for letter in letters))
    ligatures = ["لا", "لأ", "لإ", "لآ", "بلا", "عبد الله"]
    drawn_forms |= {c for word in ligatures for c in arabic_reshaper.reshape(word)}
    drawn_forms |= set(arabic_reshaper.reshape("جنيهًا مصريًا"))  # tanween, from amount_in_words

    assert drawn_forms <= {chr(code) for code in font().first_subset}


def test_the_embedded_font_file_is_the_faces_own_subset_of_those_characters():
    """Each code's glyph is in the file, composite parts included: ReportLab's makeSubset."""
    pdf = render_receipt(receipt())

    (font_file,) = [content for d, content in streams(pdf) if b"/Length1" in d]
    assert font_file == font().face.makeSubset(list(font().first_subset))
    assert subsets(pdf) == [b"AAAAAA"]


def test_every_character_drawn_is_mapped_by_the_embedded_subsets(drawn):
    pdf = render_receipt(receipt(citizen_name=PERSIAN, agent_name=ACCENTED, voided=True))

    assert set("".join(drawn)) <= mapped_characters(pdf)
    assert set(arabic_reshaper.reshape(PERSIAN)) - {" "} <= mapped_characters(pdf)


@needs_poppler
def test_characters_outside_the_alphabet_get_a_second_subset_and_read_back(tmp_path):
    pdf = render_receipt(receipt(citizen_name=PERSIAN, agent_name=ACCENTED))

    assert subsets(pdf) == [b"AAAAAA", b"AAAAAB"]
    text = text_of(pdf, tmp_path)
    assert arabic_reshaper.reshape(PERSIAN) in text
    assert ACCENTED in text


@needs_poppler
def test_two_receipts_in_a_row_each_show_their_own_text(tmp_path):
    first = text_of(
        render_receipt(receipt(agent_name="Mona", citizen_name="سيد عبد الرحمن")), tmp_path
    )
    second = text_of(render_receipt(receipt(agent_name=ACCENTED, citizen_name=PERSIAN)), tmp_path)
    third = text_of(render_receipt(receipt(agent_name="Ahmed", citizen_name="هدى")), tmp_path)

    assert "Mona" in first
    assert arabic_reshaper.reshape("سيد عبد الرحمن") in first
    assert ACCENTED in second
    assert arabic_reshaper.reshape(PERSIAN) in second
    assert "Ahmed" in third
    assert arabic_reshaper.reshape("هدى") in third
    for text in (first, third):
        assert ACCENTED not in text
        assert arabic_reshaper.reshape(PERSIAN) not in text


def test_the_cache_of_built_subsets_does_not_grow_with_the_receipts():
    have = font().face.charToGlyph
    rare = [chr(code) for code in range(0x0100, 0x0180) if code in have][:40]
    hits = font().built_subset.cache_info().hits

    for char in rare:
        pdf = render_receipt(receipt(agent_name=f"Agent {char}"))
        assert char in mapped_characters(pdf)

    info = font().built_subset.cache_info()
    assert info.currsize <= info.maxsize < len(rare)
    assert info.hits - hits >= len(rare)  # the first subset was never built again
    assert subsets(render_receipt(receipt())) == [b"AAAAAA"]


def test_receipts_rendered_in_threads_are_each_the_receipt_rendered_alone():
    names = ["سيد عبد الرحمن", PERSIAN, ACCENTED, "مصطفى كمال", "Ægir Þór", "هدى"]
    alone = {name: render_receipt(receipt(citizen_name=name)) for name in names}

    with ThreadPoolExecutor(max_workers=6) as pool:
        pdfs = list(
            pool.map(lambda i: render_receipt(receipt(citizen_name=names[i % 6])), range(60))
        )

    for i, pdf in enumerate(pdfs):
        assert pdf == alone[names[i % 6]]
