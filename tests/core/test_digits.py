from django import forms
from hypothesis import given
from hypothesis import strategies as st

from agents.fields import DigitsField, NumberField
from core.digits import normalize_digits, normalize_number


def test_arabic_indic_and_eastern_arabic_digits_become_ascii():
    assert normalize_digits("٢٩٠٠١٠١٠١٢٣٤٥٦") == "29001010123456"
    assert normalize_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789"
    assert normalize_digits("abc ١٢") == "abc 12"


def test_numbers_keep_the_arabic_decimal_separator_as_a_point():
    assert normalize_number(" ١٥٠٫٥٠ ") == "150.50"
    assert normalize_number("١٬٢٠٠") == "1,200"


@given(st.integers(min_value=0, max_value=10**18))
def test_every_number_written_in_arabic_indic_digits_reads_back(n):
    arabic = str(n).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert normalize_digits(arabic) == str(n)


class _Form(forms.Form):
    code = DigitsField()
    count = NumberField()


def test_form_fields_accept_arabic_digits():
    form = _Form(data={"code": "١٢٣ ٤٥٦", "count": "٤٢"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"code": "123456", "count": 42}


def test_a_number_field_still_refuses_letters():
    form = _Form(data={"code": "1", "count": "٤x"})
    assert not form.is_valid()
    assert "count" in form.errors
