from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from agents.fields import DigitsField
from counter import methods
from counter.forms.fields import PinField
from counter.methods import PaymentMethod
from counter.models import Citizen, Service
from counter.services.catalog import service_fields
from float_management.forms import KeyedForm, MoneyField


class PaymentForm(KeyedForm):
    """Step one of a payment: reference fields, amount, how the citizen pays.

    Each payment method (counter.methods) brings its own fields and says which
    of them it needs; what it asks on the confirmation is `confirmation()`.
    """

    method = forms.ChoiceField(
        label=_("Payment method"), choices=methods.choices, widget=forms.RadioSelect
    )
    # The citizen's signed token (counter.citizen_links), never their id.
    citizen = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)

    def __init__(
        self, *args: Any, service: Service, citizen: Citizen | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", {"citizen": citizen.token if citizen else ""})
        super().__init__(*args, **kwargs)
        self.service, self.citizen = service, citizen
        fields: dict[str, forms.Field] = {}
        for ref in service_fields(service):
            field = forms.CharField(
                label=ref.label, help_text=ref.hint, required=ref.required, max_length=60
            )
            field.widget.attrs.update({"dir": "ltr", "autocomplete": "off"})
            fields[f"ref_{ref.code}"] = field
        if service.amount_kind == Service.AmountKind.VARIABLE:
            fields["amount"] = MoneyField(label=_("Amount due (EGP)"))
        # In the order they are typed: references, amount, then the first method's own
        # fields (the cash handed over: cash is the default method, so the agent never
        # has to touch the radio), the radio, and the other methods' fields.
        first, *others = methods.all()
        self.fields["method"].initial = first.key
        self.fields = {
            **fields,
            **first.fields(),
            "method": self.fields["method"],
            **{name: f for other in others for name, f in other.fields().items()},
            "idempotency_key": self.fields["idempotency_key"],
            "citizen": self.fields["citizen"],
        }
        # The focus on the first field left to type (an agency's answer fills the bill's).
        first_field = next(
            (f for name, f in self.fields.items() if not self.initial.get(name)),
            next(iter(self.fields.values())),
        )
        first_field.widget.attrs["autofocus"] = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("method"):
            for name, message in methods.get(data["method"]).required.items():
                if data.get(name) in (None, ""):
                    self.add_error(name, message)
        return data

    def chosen_method(self) -> PaymentMethod:
        return methods.get(self.cleaned_data["method"])

    def confirmation(self, data: Mapping[str, Any] | None = None) -> forms.Form:
        """The chosen method's confirmation fields (a card's PIN) as a form of their own."""
        form = forms.Form(data)
        form.fields = self.chosen_method().confirm_fields()
        return form

    def references(self) -> dict[str, str]:
        return {
            name.removeprefix("ref_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("ref_")
        }

    def payment(self, confirmed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The keywords of `payment_quote`, with `confirmed` those of `payment_post` too."""
        method = self.chosen_method()
        tender = {name: self.cleaned_data[name] for name in method.fields()}
        kwargs = {
            "service": self.service,
            "citizen": self.citizen,
            "amount": self.cleaned_data.get("amount"),
            "references": self.references(),
            "method": method.key,
            "tender": tender,
        }
        if confirmed is not None:
            tender.update(confirmed)
            kwargs["idempotency_key"] = self.cleaned_data["idempotency_key"]
        return kwargs


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
