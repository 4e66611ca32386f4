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
    ("pounds", "arabic"),
    [
        # 1 and 2 follow the noun, as adjectives
        (1, "جنيه مصري واحد"),
        (2, "جنيهان مصريان"),
        # 3 to 10: plural
        (3, "ثلاثة جنيهات مصرية"),
        (10, "عشرة جنيهات مصرية"),
        # 11 to 99: singular, accusative
        (11, "أحد عشر جنيهًا مصريًا"),
        (99, "تسعة وتسعون جنيهًا مصريًا"),
        # round hundreds, thousands, millions: singular, genitive, in construct
        (100, "مائة جنيه مصري"),
        (200, "مائتا جنيه مصري"),
        (1000, "ألف جنيه مصري"),
        (2_000_000, "مليونا جنيه مصري"),
        # ending in 1 or 2 after a round part: the round part counted, then the noun
        (101, "مائة جنيه مصري وجنيه مصري واحد"),
        (102, "مائة جنيه مصري وجنيهان مصريان"),
        (1002, "ألف جنيه مصري وجنيهان مصريان"),
        (201, "مائتا جنيه مصري وجنيه مصري واحد"),
        # the last two digits decide, whatever comes before them
        (1011, "ألف وأحد عشر جنيهًا مصريًا"),
        (1003, "ألف وثلاثة جنيهات مصرية"),
    ],
)
def test_the_counted_noun_agrees_with_the_last_part_of_the_number(pounds, arabic):
    assert amount_in_words(pounds * 100, "ar") == arabic


def test_pounds_and_piastres_each_take_their_own_noun_form():
    assert (
        amount_in_words(123_456, "ar") == "ألف ومائتان وأربعة وثلاثون جنيهًا مصريًا وستة وخمسون قرشًا"
    )
    assert amount_in_words(10_202, "ar") == "مائة جنيه مصري وجنيهان مصريان وقرشان"
    assert amount_in_words(10_510, "ar") == "مائة وخمسة جنيهات مصرية وعشرة قروش"


@pytest.mark.parametrize("piastres", [20_000, 123_456, 25_000_000, 30_000, 20_000_000])
def test_hundreds_are_spelt_one_way(piastres):
    words = amount_in_words(piastres, "ar")
    assert "مئ" not in words
    assert "مائ" in words


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
    assert words.startswith("مليون ومائتان وأربعة وثلاثون ألفًا")
    assert words.endswith("جنيهًا مصريًا وتسعة وثمانون قرشًا")


def test_it_refuses_a_negative_amount_and_an_unknown_language():
    with pytest.raises(ValueError, match="negative"):
        amount_in_words(-1, "en")
    with pytest.raises(ValueError, match="language"):
        amount_in_words(100, "fr")
