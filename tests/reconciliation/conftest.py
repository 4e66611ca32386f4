"""Our side of a day (bank-card and wallet payments of agent A) and the fake providers."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from django.utils import timezone

from core.clock import local_today
from counter.services.payments import payment_post
from tests.factories import wallet_qr
from tests.reconciliation import fakes
from wallet import services as wallet_services
from wallet.models import (
    ReceiptStatus,
    RefundReason,
    WalletIntent,
    WalletTransaction,
)
from wallet.providers import AcquirerRow, SettlementRow


@pytest.fixture
def fakes_set(settings):
    settings.WALLET_PROVIDER_BACKEND = "tests.reconciliation.fakes.FakeWallet"
    settings.ACQUIRER_BACKEND = "tests.reconciliation.fakes.FakeAcquirer"
    fakes.reset()
    yield fakes
    fakes.reset()


@pytest.fixture
def today():
    return local_today()


@pytest.fixture
def pay_by_card(agent_a, fixed_service, citizen, open_till):
    """A bank-card payment of 54.50 at counter 1 of branch A (terminal A0001-01)."""

    def pay(approval_code: str, card_last4: str = "1234"):
        return payment_post(
            agent=agent_a,
            service=fixed_service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            method="bankcard",
            tender={"approval_code": approval_code, "card_last4": card_last4},
            idempotency_key=uuid.uuid4().hex,
        )

    return pay


def record_paid(intent: WalletIntent, *, txn_id: str, paid_at: datetime) -> WalletTransaction:
    """The provider says the QR was paid in time at its total (wallet.services.money_arrived)."""
    return wallet_services.money_arrived(
        txn_id=txn_id,
        reference=intent.reference,
        amount=intent.total,
        paid_at=paid_at,
        via="callback",
    )


@pytest.fixture
def pay_by_wallet(agent_a, fixed_service, citizen, open_till):
    """A QR shown at agent A's counter, paid in full: its payment and applied WalletTransaction."""

    def pay(txn_id: str) -> WalletTransaction:
        intent = wallet_qr(agent_a, fixed_service, citizen)
        return record_paid(intent, txn_id=txn_id, paid_at=timezone.now())

    return pay


@pytest.fixture
def unknown_money(db):
    """Money for a QR we never made: held to refund, or (refunded=True) refunded today."""

    def arrived(txn_id: str, amount: int, *, refunded: bool = False) -> WalletTransaction:
        return WalletTransaction.objects.create(
            txn_id=txn_id,
            reference="UNKNOWN0000000",
            amount=amount,
            paid_at=timezone.now(),
            via="status",
            status=ReceiptStatus.REFUNDED if refunded else ReceiptStatus.REFUND_DUE,
            reason=RefundReason.UNKNOWN,
            refund_id=uuid.uuid4().hex if refunded else "",
            refunded_at=timezone.now() if refunded else None,
        )

    return arrived


def wallet_row(txn, *, amount: int | None = None, kind: str = "payment", txn_id=None):
    return SettlementRow(
        txn_id=txn_id or txn.txn_id,
        reference=txn.refund_id if kind == "refund" else txn.reference,
        amount=(txn.amount if kind == "payment" else -txn.amount) if amount is None else amount,
        paid_at=txn.paid_at,
        kind=kind,
    )


def card_row(payment, *, amount: int | None = None, external_reference: str | None = None):
    terminal, _, approval = (external_reference or payment.external_reference).partition(":")
    return AcquirerRow(
        approval_code=approval,
        terminal_id=terminal,
        card_last4=payment.card_last4,
        amount=payment.total if amount is None else amount,
        authorized_at=payment.created_at,
    )
