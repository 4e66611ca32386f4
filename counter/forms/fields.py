"""Fields of the counter's forms that more than one form (or payment method) uses."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agents.fields import DigitsField


class PinField(DigitsField):
    """A card PIN: ASCII digits once normalised (the service checks there are four).

    str.isdigit() also takes "²" or "१", which no PIN pad types: a PIN made of
    them could be set here and never typed again.
    """

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and not (value.isascii() and value.isdigit()):
            raise ValidationError(_("The PIN is 4 digits."), code="invalid")
