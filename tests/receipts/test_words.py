"""Amounts in words under a receipt's total, in Arabic and in English."""

import pytest

from receipts.words import amount_in_words


@pytest.mark.parametrize(
    ("piastres", "arabic"),
    [
        (15050, "مائة وخمسون جنيهًا مصريًا وخمسون قرشًا"),
        (15000, "مائة وخمسون جنيهًا مصريًا"),  # no piastres: not spoken
        (100, "جنيه مصري واحد"),
        (1, "قرش واحد"),
        (200, "جنيهان مصريان"),
        (2, "قرشان"),
        (300, "ثلاثة جنيهات مصرية"),
        (3, "ثلاثة قروش"),
        (1000, "عشرة جنيهات مصرية"),
        (1100, "أحد عشر جنيهًا مصريًا"),
        (11, "أحد عشر قرشًا"),
        (10000, "مائة جنيه مصري"),
        (10300, "مائة وثلاثة جنيهات مصرية"),
        (2400, "أربعة وعشرون جنيهًا مصريًا"),
        (200000, "ألفا جنيه مصري"),
        (100_000_000, "مليون جنيه مصري"),
        (101, "جنيه مصري واحد وقرش واحد"),
        (0, "صفر جنيه مصري"),
    ],
)
def test_arabic_counts_pounds_and_piastres_with_the_right_noun_form(piastres, arabic):
    assert amount_in_words(piastres, "ar") == arabic


@pytest.mark.parametrize(
    ("piastres", "english"),
    [
        (15050, "one hundred and fifty Egyptian pounds and fifty piastres"),
        (15000, "one hundred and fifty Egyptian pounds"),
        (100, "one Egyptian pound"),
        (1, "one piastre"),
        (200, "two Egyptian pounds"),
        (2, "two piastres"),
        (1100, "eleven Egyptian pounds"),
        (11, "eleven piastres"),
        (10000, "one hundred Egyptian pounds"),
        (100_000_000, "one million Egyptian pounds"),
        (101, "one Egyptian pound and one piastre"),
        (0, "zero Egyptian pounds"),
    ],
)
def test_english_counts_pounds_and_piastres(piastres, english):
    assert amount_in_words(piastres, "en") == english


def test_the_conjunction_is_joined_to_the_next_word_as_written_arabic_does():
    words = amount_in_words(123_456_789, "ar")
    assert " و " not in words
    assert words.startswith("مليون ومئتان وأربعة وثلاثون ألفًا")
    assert words.endswith("جنيهًا مصريًا وتسعة وثمانون قرشًا")


def test_it_refuses_a_negative_amount_and_an_unknown_language():
    with pytest.raises(ValueError, match="negative"):
        amount_in_words(-1, "en")
    with pytest.raises(ValueError, match="language"):
        amount_in_words(100, "fr")
