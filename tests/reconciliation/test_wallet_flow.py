"""The wallet's own services record what the reconciliation reads (no hand-made rows)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from reconciliation.models import ItemKind
from reconciliation.services import reconciliation_run
from tests.factories import wallet_qr
from tests.reconciliation.conftest import wallet_row
from wallet import services as wallet_services
from wallet.models import ReceiptStatus

pytestmark = pytest.mark.django_db


def test_money_arrived_and_a_refund_sent_are_reconciled(
    fakes_set, agent_a, supervisor_a, fixed_service, citizen, open_till, today
):
    intent = wallet_qr(agent_a, fixed_service, citizen)
    paid = wallet_services.money_arrived(
        txn_id="W-1",
        reference=intent.reference,
        amount=intent.total,
        paid_at=timezone.now(),
        via="callback",
    )
    stray = wallet_services.money_arrived(
        txn_id="W-2",
        reference="UNKNOWN0000000",
        amount=2_000,
        paid_at=timezone.now(),
        via="status",
    )
    stray = wallet_services.refund_send(
        wallet_services.refund_approve(supervisor=supervisor_a, txn=stray)
    )
    assert (paid.status, stray.status) == (ReceiptStatus.APPLIED, ReceiptStatus.REFUNDED)
    fakes_set.FakeWallet.rows = [
        wallet_row(paid),
        wallet_row(stray),
        wallet_row(stray, kind="refund", amount=-1_900),
    ]

    run = reconciliation_run(source="wallet", business_day=today, by=None)

    assert (run.matched, run.amount_differs, run.exceptions) == (2, 1, 1)
    assert run.items.get(their_key="W-1").payment_id == paid.payment_id
    refund = run.items.get(entry="refund")
    assert (refund.kind, refund.our_amount, refund.their_amount) == (
        ItemKind.AMOUNT_DIFFERS,
        -2_000,
        -1_900,
    )
