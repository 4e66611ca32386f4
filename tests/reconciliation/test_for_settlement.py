"""What settlement asks of reconciliation: a day's exceptions, and the sources not yet run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciliation.models import ItemKind
from reconciliation.selectors import day_exceptions, unreconciled_sources
from reconciliation.services import reconciliation_run
from tests.reconciliation.conftest import card_row, wallet_row

pytestmark = pytest.mark.django_db


def test_a_day_without_wallet_or_card_money_waits_for_nothing(fakes_set, today):
    assert unreconciled_sources(today) == []
    assert day_exceptions(today) == []


def test_the_sources_that_took_money_wait_until_they_are_run(
    fakes_set, pay_by_card, pay_by_wallet, today, django_assert_num_queries
):
    pay_by_card("AB12CD")
    pay_by_wallet("W-1")

    with django_assert_num_queries(3):
        assert unreconciled_sources(today) == ["wallet", "bankcard"]
    reconciliation_run(source="bankcard", business_day=today, by=None)
    assert unreconciled_sources(today) == ["wallet"]
    reconciliation_run(source="wallet", business_day=today, by=None)
    assert unreconciled_sources(today) == []
    assert unreconciled_sources(today - timedelta(days=1)) == []


def test_the_days_exceptions_are_the_latest_runs_of_each_source(
    fakes_set, pay_by_card, pay_by_wallet, today, django_assert_num_queries
):
    card = pay_by_card("AB12CD")
    txn = pay_by_wallet("W-1")
    fakes_set.FakeAcquirer.rows = [card_row(card, amount=card.total + 100)]
    reconciliation_run(source="bankcard", business_day=today, by=None)
    fakes_set.FakeWallet.rows = []
    reconciliation_run(source="wallet", business_day=today, by=None)
    # Then the wallet's file arrives complete: its latest run has nothing to look into.
    fakes_set.FakeWallet.rows = [wallet_row(txn), wallet_row(txn, txn_id="W-PHANTOM")]
    latest_wallet = reconciliation_run(source="wallet", business_day=today, by=None)

    with django_assert_num_queries(1):
        exceptions = day_exceptions(today)
        summary = [(i.run.source, i.kind, i.their_key, i.payment_id) for i in exceptions]

    assert summary == [
        ("bankcard", ItemKind.AMOUNT_DIFFERS, "A0001-01:AB12CD", card.pk),
        ("wallet", ItemKind.ONLY_THEIRS, "W-PHANTOM", None),
    ]
    assert exceptions[1].run == latest_wallet
    assert day_exceptions(today - timedelta(days=1)) == []
