"""Egyptian mobile numbers, as people type them, to E.164."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.digits import normalize_digits

REGION = "EG"
# Separators people type inside a number; anything else (letters above all,
# which phonenumbers would read as a keypad's "vanity" digits) is refused.
_SEPARATORS = re.compile(r"[\s\-.()]+")
_TYPED = re.compile(r"\+?[0-9]{1,20}")


def parse_egyptian_mobile(text: str) -> str:
    """The E.164 form ("+201012345678") of an Egyptian mobile number; ValidationError if not one.

    Accepts the local form (01012345678), +20 and 0020, any digits, spaces and dashes.
    """
    typed = _SEPARATORS.sub("", normalize_digits(text or ""))
    if not _TYPED.fullmatch(typed):
        raise ValidationError(
            _("Type the mobile number in digits, for example 01012345678."), code="invalid"
        )
    if typed.startswith("00"):
        typed = "+" + typed[2:]
    try:
        number = phonenumbers.parse(typed, REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("This is not a valid Egyptian mobile number."), code="invalid"
        ) from None
    if number.country_code != phonenumbers.country_code_for_region(REGION):
        raise ValidationError(
            _("This is not an Egyptian number: codes are sent to Egyptian mobiles only."),
            code="foreign",
        )
    if not phonenumbers.is_valid_number_for_region(number, REGION):
        raise ValidationError(_("This is not a valid Egyptian mobile number."), code="invalid")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise ValidationError(
            _("This is a landline number: the citizen needs a mobile number to receive SMS."),
            code="landline",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_mobile_local(e164: str) -> str:
    """The number as Egyptians write it (010 1234 5678), for screens; unchanged if not parseable."""
    try:
        number = phonenumbers.parse(e164, REGION)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
