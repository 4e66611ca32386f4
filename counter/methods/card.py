"""A prepaid service card: the money comes off the card's balance account, PIN first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from agents.fields import DigitsField
from agents.permissions import scope_of
from core.money import format_amount
from counter.forms.fields import PinField
from counter.methods import PaymentMethod, ReportColumn, Row, Source
from counter.services import cards as card_services

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from counter.models import Payment, PrepaidCard
    from float_management.models import Account, TillSession


class PrepaidCardMethod(PaymentMethod):
    key = "card"
    label = _("Prepaid card")
    receipt_label = _("Card")
    column = ReportColumn("card", _("Card"), _("Card (EGP)"), _("Card payments"))
    confirm_button = _("Pay with the card")
    required = {"card_number": _("Enter the card number.")}

    def fields(self) -> dict[str, forms.Field]:
        field = DigitsField(label=_("Card number"), required=False, max_length=24)
        field.widget.attrs.update({"inputmode": "numeric", "dir": "ltr", "autocomplete": "off"})
        return {"card_number": field}

    def confirm_fields(self) -> dict[str, forms.Field]:
        widget = forms.PasswordInput(
            render_value=False,
            attrs={
                "inputmode": "numeric",
                "autocomplete": "off",
                "dir": "ltr",
                "autofocus": True,
            },
        )
        return {"pin": PinField(label=_("Card PIN"), max_length=8, widget=widget)}

    def payment_rows(self, payment: Payment) -> list[Row]:
        return [
            Row(_("Card"), payment.card.masked_number, numeric=False),
            Row(_("Card balance after (EGP)"), format_amount(payment.card_balance_after)),
        ]

    def payload(self, tender: Mapping[str, Any]) -> dict[str, Any]:
        return {"card": tender["card_number"]}

    def check(self, *, agent: User, tender: Mapping[str, Any]) -> None:
        # In a transaction of its own: a wrong PIN counts even though the payment fails.
        card_services.card_check_pin(
            card_number=tender["card_number"],
            pin=tender["pin"],
            branch_id=scope_of(agent).branch_id,
        )

    def lock(self, tender: Mapping[str, Any]) -> PrepaidCard:
        return card_services.card_usable_locked(tender["card_number"])

    def source(
        self, *, session: TillSession, tender: Mapping[str, Any], held: Any, total: int
    ) -> Source:
        card = held
        return Source(
            card.account, {"card": card, "card_balance_after": card.account.balance - total}
        )

    def void_redirect(self, payment: Payment) -> dict[int, Account]:
        # A card replaced since it paid is blocked: the refund goes to the card in use now.
        live = card_services.card_live_replacement(payment.card_id)
        if live.pk == payment.card_id:
            return {}
        return {payment.card.account_id: live.account}
