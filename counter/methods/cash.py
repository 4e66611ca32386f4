"""Cash over the counter: the money comes into the till's cash account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.money import format_amount
from counter.errors import ShortTender
from counter.methods import PaymentMethod, ReportColumn, Row, Source
from float_management import services as till
from float_management.forms import MoneyField
from float_management.ledger import check_amount

if TYPE_CHECKING:
    from django import forms

    from counter.models import Payment
    from float_management.models import TillSession


class Cash(PaymentMethod):
    key = "cash"
    label = _("Cash")
    receipt_label = _("Cash")
    column = ReportColumn("cash", _("Cash"), _("Cash (EGP)"), _("Cash payments"))
    into_till = True
    confirm_button = _("Confirm and print")
    required = {"tendered": _("Enter the cash the citizen hands over.")}

    def fields(self) -> dict[str, forms.Field]:
        return {"tendered": MoneyField(label=_("Cash tendered (EGP)"), required=False)}

    def check_total(self, tender: Mapping[str, Any], total: int) -> None:
        if tender["tendered"] < total:
            raise ShortTender(gettext("The cash tendered is less than the total."))

    def change(self, tender: Mapping[str, Any], total: int) -> int:
        return tender["tendered"] - total

    def confirm_rows(self, tender: Mapping[str, Any], total: int) -> list[Row]:
        return [
            Row(_("Cash tendered (EGP)"), format_amount(tender["tendered"])),
            Row(_("Change due (EGP)"), format_amount(self.change(tender, total)), id="change-due"),
        ]

    def payment_rows(self, payment: Payment) -> list[Row]:
        return [
            Row(_("Cash tendered (EGP)"), format_amount(payment.tendered)),
            Row(_("Change due (EGP)"), format_amount(payment.change)),
        ]

    def payload(self, tender: Mapping[str, Any]) -> dict[str, Any]:
        return {"tendered": tender["tendered"]}

    def source(
        self, *, session: TillSession, tender: Mapping[str, Any], held: Any, total: int
    ) -> Source:
        till.ensure_cash_intake_allowed(session)
        tendered = check_amount(tender["tendered"])
        self.check_total(tender, total)
        return Source(session.account, {"tendered": tendered, "change": tendered - total})
