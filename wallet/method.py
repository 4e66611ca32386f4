"""The mobile wallet as a payment method of the counter (counter.methods).

The agent confirms the service and amount; the counter's screen shows a QR
(wallet.services.intent_open) and the payment is posted when the provider
says the citizen paid it (wallet.services.money_arrived), not by the agent.
The money is owed by the provider until it settles: a clearing account of the
branch. A void sends the money back through the provider (a refund), never
through the till.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from counter.methods import PaymentMethod, ReportColumn, Row, Source
from float_management import ledger

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest, HttpResponse

    from agents.models import Branch
    from counter.models import Payment
    from float_management.models import Account, TillSession


def clearing_account(branch: Branch | None) -> Account:
    """What the wallet provider owes for the branch's wallet payments (None: head office's)."""
    return ledger.clearing_account("wallet", branch)


def refund_due_account(branch: Branch | None) -> Account:
    """Wallet money of the branch owed back to citizens (late, twice, voided)."""
    return ledger.refund_due_account("wallet", branch)


class WalletMethod(PaymentMethod):
    key = "wallet"
    label = _("Mobile wallet")
    receipt_label = _("Wallet")
    column = ReportColumn("wallet", _("Wallet"), _("Wallet (EGP)"), _("Wallet payments"))
    confirm_button = _("Show the QR")

    def begin(self, request: HttpRequest, payment: Mapping[str, Any]) -> HttpResponse:
        from wallet.services import intent_open

        intent = intent_open(agent=request.user, **payment)
        return redirect("wallet:qr", reference=intent.reference)

    def payload(self, tender: Mapping[str, Any]) -> dict[str, Any]:
        return {"txn_id": tender.get("txn_id", "")}

    def source(
        self, *, session: TillSession, tender: Mapping[str, Any], held: Any, total: int
    ) -> Source:
        return Source(
            clearing_account(session.branch),
            {"external_reference": tender["txn_id"], "reference": tender["reference"]},
        )

    def payment_rows(self, payment: Payment) -> list[Row]:
        return [Row(_("Wallet transaction"), payment.external_reference or "", numeric=False)]

    def receipt_rows(self, payment: Payment) -> list[tuple[str, str, str]]:
        return [("Wallet transaction", "رقم عملية المحفظة", payment.external_reference or "")]

    def void_redirect(self, payment: Payment) -> dict[int, Account]:
        # The reversal owes the money back to the citizen instead of un-owing the provider.
        return {clearing_account(payment.branch).pk: refund_due_account(payment.branch)}

    def voided(self, payment: Payment, *, by: User) -> None:
        from wallet.services import refund_for_void

        refund_for_void(payment=payment, by=by)
