"""Settlement in short transactions, one per agency batch (issue 14).

A run stopped half-way leaves whole batches and is resumed by the next run; a batch being
settled holds no lock on another agency's payables. The scenario is `a_day` (tests/scenario.py):
LOCAL 203.00 (3 payments), POWER 123.00 (1), TREASURY 5.00 (1).
"""

import io
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils.translation import override

from core.errors import InvalidState
from counter.models import Payment
from float_management import services as till
from float_management.models import Account, Transfer, TransferKind
from float_management.verify import ledger_verify
from settlement import services
from settlement.models import SettlementBatch, SettlementItem
from settlement.services import BANK_KEY, settlement_run
from tests.scenario import (
    BILL,
    a_day,
    day_is_over,
    day_of,
    passport_service,
    pay_cash,
    payments_of_a_day,
    treasury,
)

SCENARIO_FIXTURES = (a_day, day_is_over, passport_service, payments_of_a_day, treasury)

EXPECTED = [("LOCAL", 20_300, 3), ("POWER", 12_300, 1), ("TREASURY", 500, 1)]


class Crash(Exception):
    pass


def crash_after_the_first_batch(monkeypatch):
    """Make the run die once its first agency batch has committed, as a killed process would."""
    settle_agency = services._settle_agency
    calls = []

    def settle_then_crash(**kwargs):
        if calls:
            raise Crash("the process died")
        calls.append(kwargs["agency"].code)
        return settle_agency(**kwargs)

    monkeypatch.setattr(services, "_settle_agency", settle_then_crash)
    return calls


def summary(batches):
    return [(b.agency.code, b.total, b.items_count) for b in batches]


def check_a_run_stopped_half_way_is_resumed(a_day, head_office, monkeypatch):
    day = day_of(a_day["bill"])
    calls = crash_after_the_first_batch(monkeypatch)
    with pytest.raises(Crash):
        settlement_run(business_day=day, by=head_office)

    # The first batch is whole and matches its transfer; nothing else was posted.
    assert calls == ["LOCAL"]
    (local,) = SettlementBatch.objects.filter(business_day=day)
    assert (local.agency.code, local.total, local.items_count) == ("LOCAL", 20_300, 3)
    assert local.items.count() == 3
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == 1
    assert -local.transfer.entries.get(account__key=BANK_KEY).amount == local.total
    assert ledger_verify().ok
    assert Account.objects.get(key=BANK_KEY).balance == -20_300

    monkeypatch.undo()
    monkeypatch.setattr("settlement.services.local_today", lambda: day + timedelta(days=1))
    batches = settlement_run(business_day=day, by=head_office)

    # The same as one uninterrupted run: every agency once, LOCAL not again.
    assert summary(batches) == EXPECTED
    assert batches[0].pk == local.pk
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == 3
    assert SettlementItem.objects.count() == 5
    assert Account.objects.get(key=BANK_KEY).balance == -33_100
    payables = Account.objects.filter(key__startswith="payable:").values_list("balance", flat=True)
    assert set(payables) == {0}
    assert ledger_verify().ok


def test_a_run_stopped_half_way_is_resumed_by_the_next_run(
    a_day, head_office, day_is_over, monkeypatch
):
    check_a_run_stopped_half_way_is_resumed(a_day, head_office, monkeypatch)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_stopped_half_way_is_resumed_by_the_next_run_on_postgresql(
    a_day, head_office, day_is_over, monkeypatch
):
    check_a_run_stopped_half_way_is_resumed(a_day, head_office, monkeypatch)


def test_a_partly_settled_day_is_continued_even_when_not_idempotent(
    a_day, head_office, day_is_over, monkeypatch
):
    day = day_of(a_day["bill"])
    crash_after_the_first_batch(monkeypatch)
    with pytest.raises(Crash):
        settlement_run(business_day=day, by=head_office)
    monkeypatch.undo()
    monkeypatch.setattr("settlement.services.local_today", lambda: day + timedelta(days=1))

    assert summary(settlement_run(business_day=day, by=head_office, idempotent=False)) == EXPECTED
    with override("en"), pytest.raises(InvalidState, match="already settled"):
        settlement_run(business_day=day, by=head_office, idempotent=False)
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == 3


def test_the_settle_command_says_it_settled_the_rest(a_day, head_office, day_is_over, monkeypatch):
    day = day_of(a_day["bill"])
    crash_after_the_first_batch(monkeypatch)
    with pytest.raises(Crash):
        call_command("settle", "--day", day.isoformat(), "--by", "head_office")
    monkeypatch.undo()
    monkeypatch.setattr("settlement.services.local_today", lambda: day + timedelta(days=1))

    out = io.StringIO()
    call_command("settle", "--day", day.isoformat(), "--by", "head_office", stdout=out)
    assert "settled the rest (2 batches; 1 were settled before)" in out.getvalue()
    assert "Total 331.00 EGP, 5 items." in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_each_batch_is_its_own_transaction(a_day, head_office, day_is_over, monkeypatch):
    """Every agency batch commits on its own: the run holds no transaction around them."""
    settle_agency = services._settle_agency
    seen = []

    def record(**kwargs):
        seen.append(connection.in_atomic_block)
        return settle_agency(**kwargs)

    monkeypatch.setattr(services, "_settle_agency", record)
    settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    assert seen == [False, False, False]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_to_another_agency_goes_on_while_a_batch_is_being_settled(
    a_day,
    agent_a,
    supervisor_a,
    counter_a,
    bill_service,
    head_office,
    day_is_over,
    monkeypatch,
):
    """While LOCAL's batch holds its locks, a POWER bill is paid at the same branch.

    POWER's payable of branch A0001 is among the day's (the old one-transaction run
    locked it for the whole run); a batch now locks only its own agency's payables.
    """
    # The scenario's payments were yesterday's; today's new payment is not part of the day.
    Payment.objects.update(created_at=F("created_at") - timedelta(days=1))
    day = day_of(a_day["bill"]) - timedelta(days=1)
    session = till.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=uuid.uuid4().hex
    )
    till.request_decide(request=session.requests.get(), supervisor=supervisor_a, approve=True)

    holding, paid = threading.Event(), threading.Event()
    transfer_post = services.transfer_post
    waited = []

    def hold_local_batch(**kwargs):
        if kwargs["memo"].startswith("LOCAL "):
            # Inside LOCAL's batch transaction, its payables and the bank locked.
            holding.set()
            waited.append(paid.wait(timeout=15))
        return transfer_post(**kwargs)

    monkeypatch.setattr(services, "transfer_post", hold_local_batch)
    results, errors = [], []

    def settle():
        try:
            results.append(summary(settlement_run(business_day=day, by=head_office)))
        except Exception as error:  # reported by the assertions below
            errors.append(error)
        finally:
            connection.close()

    def pay():
        try:
            assert holding.wait(timeout=15)
            payment = pay_cash(agent_a, bill_service, amount=4_000, refs=BILL)
            results.append(payment.lines.get(agency__isnull=False).account.key)
            paid.set()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle), threading.Thread(target=pay)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert waited == [True]  # the payment finished while LOCAL's batch was still open
    assert "payable:POWER:ELEC-BILL:bill:A0001" in results
    assert EXPECTED in results
    power = Account.objects.get(key="payable:POWER:ELEC-BILL:bill:A0001")
    assert power.balance == 4_000  # today's bill, not settled with yesterday
    assert ledger_verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_to_the_same_agency_goes_on_while_its_batch_writes_the_items(
    a_day,
    agent_a,
    supervisor_a,
    counter_a,
    passport_service,
    head_office,
    day_is_over,
    monkeypatch,
):
    """While LOCAL's batch writes its items, a passport fee to LOCAL is paid at branch A.

    The passport payable of A0001 is one LOCAL's batch debits. The batch locks its payables
    only to post its transfer, after the items (a national batch: 300,000 rows) are written.
    """
    Payment.objects.update(created_at=F("created_at") - timedelta(days=1))
    day = day_of(a_day["bill"]) - timedelta(days=1)
    session = till.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=uuid.uuid4().hex
    )
    till.request_decide(request=session.requests.get(), supervisor=supervisor_a, approve=True)

    writing, paid = threading.Event(), threading.Event()
    items_write = services._settlement_items_write
    waited = []

    def hold_while_writing_items(*, batch, lines):
        if batch.agency.code == "LOCAL":
            writing.set()
            waited.append(paid.wait(timeout=10))
        return items_write(batch=batch, lines=lines)

    monkeypatch.setattr(services, "_settlement_items_write", hold_while_writing_items)
    results, errors = [], []

    def settle():
        try:
            results.append(summary(settlement_run(business_day=day, by=head_office)))
        except Exception as error:  # reported by the assertions below
            errors.append(error)
        finally:
            connection.close()

    def pay():
        try:
            assert writing.wait(timeout=10)
            payment = pay_cash(agent_a, passport_service)
            results.append(payment.lines.get(agency__code="LOCAL").account.key)
            paid.set()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle), threading.Thread(target=pay)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert waited == [True]  # paid while LOCAL's batch was still being written
    assert EXPECTED in results
    (key,) = [r for r in results if isinstance(r, str)]
    assert Account.objects.get(key=key).balance == 10_000  # today's fee, not settled
    assert ledger_verify().ok
