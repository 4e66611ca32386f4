"""The counter's refund forms: the receipt's payment reference and the citizen's national ID."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from float_management.forms import KeyedForm


class RefundFindForm(forms.Form):
    payment_reference = forms.CharField(
        label=_("Receipt's payment reference"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "dir": "ltr"}),
    )
    national_id = forms.CharField(
        label=_("Citizen's national ID"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "dir": "ltr"}),
    )


class RefundPayoutForm(KeyedForm, RefundFindForm):
    """The same two proofs again (nothing of the citizen's is kept between pages)."""

    payment_reference = forms.CharField(max_length=20, widget=forms.HiddenInput)
    national_id = forms.CharField(max_length=20, widget=forms.HiddenInput)
