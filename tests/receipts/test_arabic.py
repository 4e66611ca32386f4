"""Arabic for the PDF: shaped, in visual order, brackets kept, wrapped by words in logical order."""

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth

from receipts.arabic import FONT, register_fonts, visual, wrap_visual

# Presentation forms, worked out by hand from the joining rules: a letter
# joins the next unless it is one of ا د ذ ر ز و (or ends the word).
SIN_INITIAL, DAL_FINAL, ALEF_ISOLATED, DAL_ISOLATED = "\ufeb3", "\ufeaa", "\ufe8d", "\ufea9"
JEEM_ISOLATED, MEEM_ISOLATED = "\ufe9d", "\ufee1"


@pytest.fixture(autouse=True, scope="module")
def _fonts():
    register_fonts()


def test_a_sentence_is_shaped_and_reversed_word_by_word():
    # مكتب بريد العتبة, read right to left: the last word is drawn first (leftmost).
    maktab = "\ufe90\ufe98\ufedc\ufee3"  # ب final, ت medial, ك medial, م initial
    bareed = (
        "\ufeaa\ufef3\ufeae\ufe91"  # د final, ي initial (ر does not join on), ر final, ب initial
    )
    ataba = "\ufe94\ufe92\ufe98\ufecc\ufedf\ufe8d"  # ة final ... ل initial, ا isolated
    assert visual("مكتب بريد العتبة") == f"{ataba} {bareed} {maktab}"


def test_a_mixed_line_keeps_the_number_and_the_bracketed_code_in_reading_order():
    # Right to left: سداد, then 150.50, then ج.م, then (EGP) at the far left.
    # The number and the Latin code stay left to right inside, and the
    # brackets are not mirrored into ")EGP(" as python-bidi's Rust
    # get_display draws them.
    sadad = DAL_ISOLATED + ALEF_ISOLATED + DAL_FINAL + SIN_INITIAL
    currency = MEEM_ISOLATED + "." + JEEM_ISOLATED
    assert visual("سداد 150.50 ج.م (EGP)") == f"(EGP) {currency} 150.50 {sadad}"


def test_a_line_starting_with_a_number_is_still_right_to_left():
    currency = MEEM_ISOLATED + "." + JEEM_ISOLATED
    assert visual("150.50 ج.م (EGP)") == f"(EGP) {currency} 150.50"


def test_latin_text_is_left_alone():
    assert visual("Receipt no. 123456789012 (copy)") == "Receipt no. 123456789012 (copy)"


SENTENCE = (
    "تم سداد رسم الوحدة المحلية وضريبة الدمغة وعمولة البريد عن صورة طبق الأصل "
    "من رخصة رقم 9876/2025 بمبلغ 150.50 ج.م (EGP) في مكتب بريد العتبة"
)


def _logical_lines(lines, words):
    """The words of each visual line, found by matching runs of `words` in order."""
    found, start = [], 0
    for line in lines:
        for end in range(start + 1, len(words) + 1):
            if visual(" ".join(words[start:end]), base_dir="R") == line:
                found.append(words[start:end])
                start = end
                break
        else:
            raise AssertionError(f"line {line!r} is not the next words of the sentence")
    return found


@pytest.mark.parametrize("width", [60, 90, 140, 200])
def test_wrapped_lines_fit_and_keep_every_word_in_logical_order(width):
    lines = wrap_visual(SENTENCE, FONT, 9, width)

    assert len(lines) > 1
    for line in lines:
        assert stringWidth(line, FONT, 9) <= width + 1e-6
    words = SENTENCE.split()
    assert [word for part in _logical_lines(lines, words) for word in part] == words


def test_each_line_is_as_full_as_the_next_word_allows():
    width = 120
    lines = wrap_visual(SENTENCE, FONT, 9, width)
    parts = _logical_lines(lines, SENTENCE.split())
    for part, following in zip(parts, parts[1:], strict=False):
        longer = visual(" ".join([*part, following[0]]), base_dir="R")
        assert stringWidth(longer, FONT, 9) > width


def test_a_wrapped_line_that_starts_with_latin_keeps_the_paragraph_right_to_left():
    text = "الرسوم المطلوبة EGP 150.50 فقط"
    first, second = visual("الرسوم المطلوبة"), visual("EGP 150.50 فقط")
    # Room for either half, not for the first and "EGP": "EGP" starts the second line.
    width = max(stringWidth(first, FONT, 9), stringWidth(second, FONT, 9)) + 1
    assert stringWidth(visual("الرسوم المطلوبة EGP"), FONT, 9) > width
    lines = wrap_visual(text, FONT, 9, width)

    assert len(lines) == 2
    assert lines[0] == first
    # Right to left: "EGP 150.50" is read first, so it sits at the right end.
    assert lines[1] == visual("فقط") + " EGP 150.50"
    assert visual("EGP 150.50 فقط") == "EGP 150.50 " + visual("فقط")  # alone it would be LTR


def test_a_word_wider_than_the_line_is_cut_so_that_each_piece_fits():
    url = "http://127.0.0.1:8000/r/" + "abcdefghij" * 6
    lines = wrap_visual(url, FONT, 7, 80)

    assert len(lines) > 1
    assert "".join(lines) == url
    assert all(stringWidth(line, FONT, 7) <= 80 + 1e-6 for line in lines)


def test_nothing_to_wrap_gives_no_lines():
    assert wrap_visual("   ", FONT, 9, 100) == []


def test_a_paragraph_wrapped_again_comes_out_whole_whatever_was_done_to_the_first_lines():
    """Wrapping is cached: the lines handed out must not be the cache's own."""
    lines = wrap_visual(SENTENCE, FONT, 9, 100)
    expected = list(lines)
    lines.clear()

    assert wrap_visual(SENTENCE, FONT, 9, 100) == expected
    assert wrap_visual(SENTENCE, FONT, 9, 140) != expected  # another width, its own lines
