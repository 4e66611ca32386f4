"""A bank card on the counter's own card terminal, outside the app.

The terminal and its acquiring bank take the card and the PIN; the app never
sees the card's number. The agent types what the terminal printed: its
approval code and the card's last four digits. The money is owed by the
acquirer until it settles (a clearing account of the branch), and its daily
file is matched against these payments (reconciliation/).

An approval code is the terminal's: the payment keeps it with the terminal's
id, and one approval is paid into one payment only, so an old slip's code
typed again is refused rather than taken as a second card payment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agents.fields import DigitsField
from counter.errors import ApprovalUsed
from counter.methods import PaymentMethod, ReportColumn, Row, Source
from counter.models import Payment
from float_management.ledger import clearing_account

if TYPE_CHECKING:
    from float_management.models import TillSession

_APPROVAL = re.compile(r"^[A-Z0-9]{6}$")


def terminal_id(branch_code: str, counter_number: int) -> str:
    """The card terminal on a counter, as the acquirer names it in its daily file."""
    return f"{branch_code}-{counter_number:02d}"


class ApprovalCodeField(forms.CharField):
    """The terminal's approval code: six letters or digits, as printed (case ignored)."""

    def to_python(self, value: Any) -> str:
        return super().to_python(value).strip().replace(" ", "").upper()

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and not _APPROVAL.match(value):
            raise ValidationError(
                _("The approval code is the six letters or digits on the terminal's slip."),
                code="approval_code",
            )


class LastFourField(DigitsField):
    def validate(self, value: str) -> None:
        super().validate(value)
        if value and not re.fullmatch(r"[0-9]{4}", value):
            raise ValidationError(
                _("Type only the card's last four digits, never the whole number."),
                code="last4",
            )


class BankCardMethod(PaymentMethod):
    key = "bankcard"
    label = _("Bank card")
    receipt_label = _("Bank card")
    column = ReportColumn("bankcard", _("Bank card"), _("Bank card (EGP)"), _("Bank card payments"))
    confirm_button = _("Confirm and print")
    required = {
        "approval_code": _("Type the approval code the terminal printed."),
        "card_last4": _("Type the card's last four digits."),
    }

    def fields(self) -> dict[str, forms.Field]:
        approval = ApprovalCodeField(
            label=_("Terminal approval code"), required=False, max_length=8
        )
        approval.widget.attrs.update({"dir": "ltr", "autocomplete": "off", "spellcheck": "false"})
        last4 = LastFourField(label=_("Card's last four digits"), required=False, max_length=4)
        last4.widget.attrs.update({"inputmode": "numeric", "dir": "ltr", "autocomplete": "off"})
        return {"approval_code": approval, "card_last4": last4}

    def payload(self, tender: Mapping[str, Any]) -> dict[str, Any]:
        return {"approval_code": tender["approval_code"], "card_last4": tender["card_last4"]}

    def source(
        self, *, session: TillSession, tender: Mapping[str, Any], held: Any, total: int
    ) -> Source:
        terminal = terminal_id(session.branch.code, session.counter.number)
        reference = f"{terminal}:{tender['approval_code']}"
        paid = (
            Payment.objects.filter(method=self.key, external_reference=reference)
            .values_list("reference", flat=True)
            .first()
        )
        if paid is not None:
            raise ApprovalUsed(
                gettext("This approval code already paid receipt %(reference)s.")
                % {"reference": paid}
            )
        return Source(
            clearing_account(self.key, session.branch),
            {
                "external_reference": reference,
                "card_last4": tender["card_last4"],
            },
        )

    def confirm_rows(self, tender: Mapping[str, Any], total: int) -> list[Row]:
        return [
            Row(_("Terminal approval code"), tender["approval_code"], numeric=False),
            Row(_("Card"), f"•••• {tender['card_last4']}", numeric=False),
        ]

    def payment_rows(self, payment: Payment) -> list[Row]:
        return [
            Row(_("Terminal approval code"), approval_code(payment), numeric=False),
            Row(_("Card"), f"•••• {payment.card_last4}", numeric=False),
        ]

    def receipt_rows(self, payment: Payment) -> list[tuple[str, str, str]]:
        return [
            ("Approval code", "رقم الموافقة", approval_code(payment)),
            ("Card", "البطاقة", f"**** {payment.card_last4}"),
        ]


def approval_code(payment: Payment) -> str:
    return (payment.external_reference or "").rpartition(":")[2]
