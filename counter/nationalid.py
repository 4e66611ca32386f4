"""The Egyptian national ID: 14 digits that carry the birth date, governorate and sex.

    C YYMMDD GG SSSS K
    │   │    │   │   └ digit 14: check digit
    │   │    │   └ digits 10-13: sequence; digit 13 odd for a man, even for a woman
    │   │    └ digits 8-9: governorate of birth (agents.governorates; 88 born abroad)
    │   └ digits 2-7: birth date
    └ digit 1: century, 2 for the 1900s, 3 for the 2000s

The check digit is not verified: the Civil Status Organization has not
published its algorithm, and guessing one would refuse real citizens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agents.governorates import BORN_ABROAD, GOVERNORATES
from core.clock import local_today
from core.digits import normalize_digits

LENGTH = 14
MASK = "•"
_CENTURIES = {"2": 1900, "3": 2000}
_GOVERNORATE_CODES = frozenset(code for code, _ar, _en in [*GOVERNORATES, BORN_ABROAD])
# ASCII only: str.isdigit() also accepts "²" or Devanagari digits, which int() then refuses.
_DIGITS = re.compile(r"[0-9]+")
_SPACES = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class NationalId:
    number: str
    birth_date: date
    governorate_code: str
    sex: str  # "M" or "F", as Citizen.Sex


def normalize_national_id(text: str) -> str:
    """ASCII digits, spaces and dashes removed; nothing checked."""
    return _SPACES.sub("", normalize_digits(text or ""))


def parse_national_id(text: str) -> NationalId:
    """The parts of a national ID typed in any digits; ValidationError if it cannot be one."""
    number = normalize_national_id(text)
    if number and not _DIGITS.fullmatch(number):
        raise ValidationError(_("A national ID has digits only."), code="not_digits")
    if len(number) != LENGTH:
        raise ValidationError(
            _("A national ID has 14 digits; this one has %(count)d."),
            code="length",
            params={"count": len(number)},
        )
    century = _CENTURIES.get(number[0])
    if century is None:
        raise ValidationError(
            _("A national ID starts with 2 (born in the 1900s) or 3 (born in the 2000s)."),
            code="century",
        )
    try:
        birth_date = date(century + int(number[1:3]), int(number[3:5]), int(number[5:7]))
    except ValueError:
        raise ValidationError(
            _("Digits 2 to 7 of the national ID are not a real birth date."), code="date"
        ) from None
    if birth_date > local_today():
        raise ValidationError(
            _("The birth date in this national ID is in the future."), code="future"
        )
    governorate_code = number[7:9]
    if governorate_code not in _GOVERNORATE_CODES:
        raise ValidationError(
            _("Digits 8 and 9 of the national ID are not a governorate code."),
            code="governorate",
        )
    sex = "M" if int(number[12]) % 2 == 1 else "F"
    return NationalId(
        number=number, birth_date=birth_date, governorate_code=governorate_code, sex=sex
    )


def mask_national_id(number: str) -> str:
    """The first digit (the century) and the last two; the rest hidden."""
    if len(number) <= 3:
        return MASK * len(number)
    return number[0] + MASK * (len(number) - 3) + number[-2:]
