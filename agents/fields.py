"""Form fields that accept the digits people type at the counter."""

from __future__ import annotations

from typing import Any

from django import forms

from core.digits import normalize_digits, normalize_number


class DigitsField(forms.CharField):
    """A code made of digits (national ID, card number, OTP): normalised, spaces removed."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return normalize_digits(text).replace(" ", "").replace("-", "")


class NumberField(forms.IntegerField):
    """A whole number typed in any of the digit sets.

    A text input, not type=number: browsers refuse Arabic-Indic digits there.
    """

    widget = forms.TextInput

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "dir": "ltr", "autocomplete": "off"})
        return attrs

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str):
            value = normalize_number(value).replace(",", "")
        return super().to_python(value)
