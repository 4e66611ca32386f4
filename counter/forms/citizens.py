"""Forms of the citizen screens: they check the shape; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agents.fields import DigitsField
from counter.nationalid import parse_national_id
from counter.phones import parse_egyptian_mobile
from counter.services.citizens import OTP_DIGITS

_DIGITS_ATTRS = {"inputmode": "numeric", "dir": "ltr", "autocomplete": "off", "spellcheck": "false"}


def _phone_widget() -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "inputmode": "tel",
            "dir": "ltr",
            "autocomplete": "off",
            "placeholder": "01xxxxxxxxx",
        }
    )


class FocusingForm(forms.Form):
    """Autofocus where the next keystroke goes: the first field in error, else `focus`."""

    focus: str = ""

    def set_focus(self, default: str | None = None) -> None:
        errors = self._errors or {}
        target = next((name for name in self.fields if name in errors), None)
        self.focus_on(target or default or self.focus)

    def focus_on(self, target: str | None) -> None:
        """Autofocus `target` only (None: no field of this form)."""
        for name, field in self.fields.items():
            field.widget.attrs.pop("autofocus", None)
            if name == target:
                field.widget.attrs["autofocus"] = True

    def full_clean(self) -> None:
        super().full_clean()
        self.set_focus()

    def add_error(self, field: str | None, error: ValidationError | str) -> None:
        super().add_error(field, error)
        self.set_focus()


class CitizenForm(FocusingForm):
    national_id = DigitsField(
        label=_("National ID (14 digits)"),
        max_length=14,
        widget=forms.TextInput(attrs=_DIGITS_ATTRS),
    )
    name_ar = forms.CharField(
        label=_("Full name in Arabic"),
        max_length=150,
        widget=forms.TextInput(attrs={"dir": "rtl", "lang": "ar", "autocomplete": "off"}),
    )
    name_en = forms.CharField(
        label=_("Full name in English (optional)"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"dir": "ltr", "lang": "en", "autocomplete": "off"}),
    )
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        widget=_phone_widget(),
    )
    consent = forms.BooleanField(
        label=_(
            "The citizen agrees that their national ID, name and mobile number are kept to "
            "serve them at post office counters and to send them SMS codes."
        ),
        error_messages={"required": _("The citizen must agree before they are registered.")},
    )

    focus = "national_id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The maxlength attribute would stop an ID typed with spaces ("2 900101 01 1234 5").
        self.fields["national_id"].widget.attrs.pop("maxlength", None)
        # Arriving from a search that found nobody, the ID is typed already.
        prefilled = not self.is_bound and self.initial.get("national_id")
        self.set_focus("name_ar" if prefilled else None)

    def clean_national_id(self) -> str:
        return parse_national_id(self.cleaned_data["national_id"]).number

    def clean_mobile(self) -> str:
        return parse_egyptian_mobile(self.cleaned_data["mobile"])


class SendCodeForm(FocusingForm):
    mobile = forms.CharField(
        label=_("Send to another mobile number (optional)"),
        max_length=32,
        required=False,
        widget=_phone_widget(),
    )

    def clean_mobile(self) -> str:
        text = self.cleaned_data["mobile"]
        return parse_egyptian_mobile(text) if text.strip() else ""


class VerifyCodeForm(FocusingForm):
    code = DigitsField(
        label=_("Code from the SMS"),
        widget=forms.TextInput(attrs={**_DIGITS_ATTRS, "autocomplete": "one-time-code"}),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if not (len(code) == OTP_DIGITS and code.isascii() and code.isdigit()):
            raise ValidationError(
                _("The code has %(digits)d digits."), code="invalid", params={"digits": OTP_DIGITS}
            )
        return code
