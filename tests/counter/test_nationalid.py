"""The national ID: what its digits say, and every way it can be wrong."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from agents.governorates import BORN_ABROAD, GOVERNORATES
from counter.nationalid import NationalId, mask_national_id, parse_national_id

WOMAN_1990 = "29001010112345"  # 1 Jan 1990, Cairo (01), sequence 1234 (4 even: a woman)
CODES = [code for code, _ar, _en in [*GOVERNORATES, BORN_ABROAD]]


def national_id(born: date, governorate: str = "01", sequence: str = "1234", check: str = "5"):
    century = "2" if born.year < 2000 else "3"
    return f"{century}{born:%y%m%d}{governorate}{sequence}{check}"


def test_it_reads_the_birth_date_governorate_and_sex():
    assert parse_national_id(WOMAN_1990) == NationalId(
        number=WOMAN_1990, birth_date=date(1990, 1, 1), governorate_code="01", sex="F"
    )


@pytest.mark.parametrize(("sequence", "sex"), [("1235", "M"), ("0001", "M"), ("9998", "F")])
def test_an_odd_thirteenth_digit_is_a_man_and_an_even_one_a_woman(sequence, sex):
    assert parse_national_id(national_id(date(1985, 6, 15), sequence=sequence)).sex == sex


def test_a_citizen_born_in_the_2000s_has_century_digit_3():
    parsed = parse_national_id("30002290112345")
    assert parsed.birth_date == date(2000, 2, 29)  # 2000 was a leap year


def test_a_citizen_born_abroad_has_governorate_88():
    assert parse_national_id(national_id(date(1970, 3, 4), governorate="88")).governorate_code == (
        "88"
    )


@pytest.mark.parametrize(
    "typed",
    [
        "٢٩٠٠١٠١٠١١٢٣٤٥",  # Arabic-Indic
        "۲۹۰۰۱۰۱۰۱۱۲۳۴۵",  # Eastern Arabic (Persian keyboards)
        "2 900101 01 1234 5",
        " 2900-1010-1123-45 ",
        "٢٩٠٠١٠١ 0112345",
    ],
)
def test_arabic_digits_spaces_and_dashes_are_accepted(typed):
    assert parse_national_id(typed).number == WOMAN_1990


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "length"),
        ("2900101011234", "length"),
        ("290010101123456", "length"),
        ("2900101011234a", "not_digits"),
        ("29001O10112345", "not_digits"),  # a letter O among the digits
        ("2900101011234²", "not_digits"),  # str.isdigit() says yes; int() would fail
        ("19001010112345", "century"),
        ("49001010112345", "century"),
        ("29002310112345", "date"),  # 31 February
        ("29002290112345", "date"),  # 29 February 1990
        ("29013010112345", "date"),  # month 13
        ("29001000112345", "date"),  # day 0
        ("29001019912345", "governorate"),  # 99
        ("29001010012345", "governorate"),  # 00
    ],
)
def test_a_bad_national_id_is_refused_with_its_reason(typed, code):
    with pytest.raises(ValidationError) as caught:
        parse_national_id(typed)
    assert caught.value.code == code
    assert caught.value.messages[0]  # a sentence for the agent, never empty


def test_a_birth_date_in_the_future_is_refused():
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        parse_national_id(national_id(tomorrow))
    assert caught.value.code == "future"


def test_a_citizen_born_today_is_accepted():
    today = timezone.localdate()
    assert parse_national_id(national_id(today)).birth_date == today


def test_the_length_message_says_how_many_digits_were_typed():
    with pytest.raises(ValidationError) as caught:
        parse_national_id("123")
    assert "3" in caught.value.messages[0]


def test_a_masked_id_shows_the_first_digit_and_the_last_two():
    assert mask_national_id(WOMAN_1990) == "2•••••••••••45"


def test_masking_a_short_value_hides_all_of_it():
    assert mask_national_id("123") == "•••"


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)),
    governorate=st.sampled_from(CODES),
    sequence=st.from_regex(r"[0-9]{4}", fullmatch=True),
    check=st.from_regex(r"[0-9]", fullmatch=True),
)
def test_every_well_formed_id_gives_back_its_parts(born, governorate, sequence, check):
    parsed = parse_national_id(national_id(born, governorate, sequence, check))
    assert parsed.birth_date == born
    assert parsed.governorate_code == governorate
    assert parsed.sex == ("M" if int(sequence[-1]) % 2 else "F")


def _value_or_validation_error(text):
    try:
        result = parse_national_id(text)
    except ValidationError as error:
        assert error.messages
        return
    assert isinstance(result, NationalId)
    assert len(result.number) == 14 and result.number.isascii() and result.number.isdigit()


@given(st.text())
def test_any_text_gives_an_id_or_a_validation_error(text):
    _value_or_validation_error(text)


@given(st.text(alphabet="0123456789٠١٢٣٤٥٦٧٨٩ -", min_size=12, max_size=18))
def test_any_digits_give_an_id_or_a_validation_error(text):
    _value_or_validation_error(text)
