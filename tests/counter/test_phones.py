"""Egyptian mobile numbers, as typed at the counter, to E.164."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from counter.phones import parse_egyptian_mobile


@pytest.mark.parametrize(
    "typed",
    [
        "01012345678",
        "+201012345678",
        "00201012345678",
        "٠١٠١٢٣٤٥٦٧٨",
        "۰۱۰۱۲۳۴۵۶۷۸",
        "010 1234 5678",
        "010-1234-5678",
        " +20 10 1234 5678 ",
        "(010) 1234.5678",
    ],
)
def test_every_usual_way_of_typing_a_mobile_gives_e164(typed):
    assert parse_egyptian_mobile(typed) == "+201012345678"


@pytest.mark.parametrize("prefix", ["010", "011", "012", "015"])
def test_every_egyptian_mobile_network_is_accepted(prefix):
    assert parse_egyptian_mobile(f"{prefix}12345678") == f"+20{prefix[1:]}12345678"


@pytest.mark.parametrize("typed", ["0223456789", "+20223456789", "0020 2 2345 6789", "034567890"])
def test_a_landline_is_refused(typed):
    with pytest.raises(ValidationError) as caught:
        parse_egyptian_mobile(typed)
    assert caught.value.code == "landline"


@pytest.mark.parametrize("typed", ["+447700900123", "00447700900123", "+966501234567"])
def test_a_foreign_number_is_refused(typed):
    with pytest.raises(ValidationError) as caught:
        parse_egyptian_mobile(typed)
    assert caught.value.code == "foreign"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "0101234567",  # one digit short
        "010123456789",  # one digit too many
        "01912345678",  # no such network
        "010ABCDEFGH",  # phonenumbers would read letters as keypad digits
        "+",
        "+20",
        "mobile",
    ],
)
def test_an_invalid_number_is_refused(typed):
    with pytest.raises(ValidationError) as caught:
        parse_egyptian_mobile(typed)
    assert caught.value.code == "invalid"
    assert caught.value.messages[0]


def _value_or_validation_error(text):
    try:
        result = parse_egyptian_mobile(text)
    except ValidationError as error:
        assert error.messages
        return
    assert result.startswith("+201") and len(result) == 13


@given(st.text())
def test_any_text_gives_a_mobile_or_a_validation_error(text):
    _value_or_validation_error(text)


@given(st.text(alphabet="0123456789٠١٢٣٤٥٦٧٨٩+ -()", max_size=24))
def test_any_digits_give_a_mobile_or_a_validation_error(text):
    _value_or_validation_error(text)
