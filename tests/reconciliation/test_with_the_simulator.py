"""The wallet provider's simulator, a real process, with its `settlement_mismatches` fault."""

from __future__ import annotations

from datetime import datetime

import pytest

from reconciliation.models import ItemKind
from reconciliation.services import reconciliation_run
from tests.factories import wallet_qr
from tests.reconciliation.conftest import record_paid

testing = pytest.importorskip("simulators.testing", reason="the simulators are not here yet")

pytestmark = pytest.mark.django_db


def test_the_simulators_mismatched_file_gives_each_kind_once(
    settings, agent_a, fixed_service, citizen, open_till, today
):
    with testing.start("wallet") as sim:
        settings.WALLET_PROVIDER_BACKEND = "wallet.providers.HttpWalletProvider"
        settings.WALLET_PROVIDER_URL = sim.url
        paid = []
        for _ in range(3):
            intent = wallet_qr(agent_a, fixed_service, citizen)
            answer = sim.post("/v1/payments", {"qr": intent.payload, "wallet": "01000000000"})
            assert answer.status == 201, answer.text
            txn = answer.json()
            paid.append(
                record_paid(
                    intent, txn_id=txn["txn_id"], paid_at=datetime.fromisoformat(txn["paid_at"])
                )
            )
        assert sim.post("/v1/faults", {"settlement_mismatches": True}).status == 200

        run = reconciliation_run(source="wallet", business_day=today, by=None)

    first, second, third = sorted(paid, key=lambda txn: txn.txn_id)
    kinds = {item.their_key: item.kind for item in run.items.all()}
    assert kinds == {
        first.txn_id: ItemKind.ONLY_OURS,  # dropped from their file
        second.txn_id: ItemKind.AMOUNT_DIFFERS,  # +1.00 in their file
        third.txn_id: ItemKind.MATCHED,
        f"WT{today:%Y%m%d}999999": ItemKind.ONLY_THEIRS,  # their phantom
    }
    assert run.items.get(their_key=second.txn_id).difference == 100
    assert run.total_theirs - run.total_ours == -first.amount + 100 + 5000
