from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agents.fields import DigitsField
from counter.models import Payment, Service
from float_management.forms import KeyedForm, MoneyField


class PinField(DigitsField):
    """A card PIN: ASCII digits once normalised (the service checks there are four).

    str.isdigit() also takes "²" or "१", which no PIN pad types: a PIN made of
    them could be set here and never typed again.
    """

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and not (value.isascii() and value.isdigit()):
            raise ValidationError(_("The PIN is 4 digits."), code="invalid")


class PaymentForm(KeyedForm):
    """Step one of a payment: reference fields, amount, how the citizen pays."""

    method = forms.ChoiceField(
        label=_("Payment method"),
        choices=Payment.Method.choices,
        initial=Payment.Method.CASH,
        widget=forms.RadioSelect,
    )
    tendered = MoneyField(label=_("Cash tendered (EGP)"), required=False)
    card_number = DigitsField(label=_("Card number"), required=False, max_length=24)
    # The citizen's signed token (counter.citizen_links), never their id.
    citizen = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        fields: dict[str, forms.Field] = {}
        for ref in service.reference_fields.all():
            field = forms.CharField(
                label=ref.label, help_text=ref.hint, required=ref.required, max_length=60
            )
            field.widget.attrs.update({"dir": "ltr", "autocomplete": "off"})
            fields[f"ref_{ref.code}"] = field
        if service.amount_kind == Service.AmountKind.VARIABLE:
            fields["amount"] = MoneyField(label=_("Amount due (EGP)"))
        # In the order they are typed: references, amount, then the cash handed over
        # (cash is the default method, so the agent never has to touch the radio).
        order = ["tendered", "method", "card_number", "idempotency_key", "citizen"]
        self.fields = {**fields, **{name: self.fields[name] for name in order}}
        self.fields["card_number"].widget.attrs.update(
            {"inputmode": "numeric", "dir": "ltr", "autocomplete": "off"}
        )
        first = next(iter(self.fields.values()))
        first.widget.attrs["autofocus"] = True

    def clean(self):
        data = super().clean()
        method = data.get("method")
        if method == Payment.Method.CASH and not data.get("tendered"):
            self.add_error("tendered", _("Enter the cash the citizen hands over."))
        if method == Payment.Method.CARD and not data.get("card_number"):
            self.add_error("card_number", _("Enter the card number."))
        return data

    def references(self) -> dict[str, str]:
        return {
            name.removeprefix("ref_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("ref_")
        }


class PinForm(forms.Form):
    pin = PinField(
        label=_("Card PIN"), max_length=8, widget=forms.PasswordInput(render_value=False)
    )


class VoidForm(KeyedForm):
    reason = forms.CharField(label=_("Reason for the void"), max_length=200)


class CardNumberForm(forms.Form):
    card_number = DigitsField(label=_("Card number"), max_length=24)


class CardUnlockForm(CardNumberForm):
    national_id = DigitsField(
        label=_("Holder's national ID (from their ID card)"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr", "autocomplete": "off"}),
    )


class CardIssueForm(KeyedForm):
    pin = PinField(
        label=_("New PIN (4 digits)"),
        max_length=8,
        widget=forms.PasswordInput(attrs={"autofocus": True, "inputmode": "numeric"}),
    )


class CardTopUpForm(KeyedForm):
    card_number = DigitsField(
        label=_("Card number"),
        max_length=24,
        widget=forms.TextInput(attrs={"autofocus": True, "inputmode": "numeric", "dir": "ltr"}),
    )
    amount = MoneyField(label=_("Top-up (EGP)"))


class CardReplaceForm(KeyedForm):
    card_number = DigitsField(label=_("Lost card number"), max_length=24)
    proof_code = DigitsField(
        label=_("Code sent to the citizen's mobile"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr", "autocomplete": "off"}),
    )
    proof_pin = PinField(
        label=_("Or the lost card's PIN"),
        max_length=8,
        required=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    pin = PinField(
        label=_("PIN of the new card (4 digits)"), max_length=8, widget=forms.PasswordInput
    )
