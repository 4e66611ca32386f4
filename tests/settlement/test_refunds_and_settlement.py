"""A refund an agency gives back never pays it, nor the citizen, twice.

The scenario's day with the licence renewal integrated (LOCAL's 50.00 fee, 3.00
commission, 1.50 stamp duty to LOCAL's agency too): one of its two standing renewals
is given back to the citizen, before or after the day is settled.
"""

import pytest
from django.core.management import call_command
from django.utils import timezone

from agencies.models import Integration, Notification, NotificationStatus
from agencies.refunds import agency_receivable, refund_open
from agencies.services import integrations_cache_clear
from float_management.ledger import refund_due_account
from float_management.models import Account
from settlement.models import SettlementBatch, SettlementItem
from settlement.services import settlement_run
from tests.scenario import (
    a_day,
    day_is_over,
    day_of,
    passport_service,
    payments_of_a_day,
    treasury,
)

SCENARIO_FIXTURES = (a_day, day_is_over, passport_service, payments_of_a_day, treasury)


@pytest.fixture(autouse=True)
def _integrations_forgotten():
    integrations_cache_clear()
    yield
    integrations_cache_clear()


@pytest.fixture
def day(fixed_service, a_day):
    return a_day


@pytest.fixture
def integrated(fixed_service):
    return Integration.objects.create(service=fixed_service, opens_request=True)


def _confirmed():
    Notification.objects.update(
        status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), agency_txn_id="T"
    )


def _balance(account):
    return Account.objects.get(pk=account.pk).balance


def _local_batch():
    return SettlementBatch.objects.get(agency__code="LOCAL")


def test_a_refund_before_settlement_leaves_the_payment_out_of_the_agency_s_batch(
    integrated, day, head_office, day_is_over, branch_a
):
    given_back, kept = day["renewals"]
    refund = refund_open(payment=given_back, reason="rejected")
    _confirmed()
    settlement_run(business_day=day_of(kept), by=head_office)

    settled = set(
        SettlementItem.objects.filter(batch=_local_batch()).values_list("payment_id", flat=True)
    )
    assert kept.pk in settled and given_back.pk not in settled
    assert _balance(refund_due_account("agency", branch_a)) == refund.amount
    assert _balance(agency_receivable("LOCAL")) == 0  # nothing to claim back: never paid
    call_command("ledger_verify")


def test_a_refund_after_settlement_is_owed_back_by_the_agency_and_leaves_its_payable_alone(
    integrated, day, head_office, day_is_over, branch_a
):
    given_back, kept = day["renewals"]
    _confirmed()
    settlement_run(business_day=day_of(kept), by=head_office)
    payables = {
        line.account_id: _balance(line.account) for line in given_back.lines.all() if line.agency
    }

    refund = refund_open(payment=given_back, reason="rejected")

    owed_by_agency = sum(line.amount for line in given_back.lines.all() if line.agency)
    assert _balance(agency_receivable("LOCAL")) == owed_by_agency
    assert _balance(refund_due_account("agency", branch_a)) == refund.amount == given_back.total
    assert {pk: _balance(Account(pk=pk)) for pk in payables} == payables
    call_command("ledger_verify")
