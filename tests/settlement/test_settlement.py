"""Settlement to the agencies: each agency's share of a day's payments, paid once.

The scenario (`a_day`, in tests/scenario.py): agent_a's till takes four payments and one that is
voided, then closes. Owed: LOCAL 50.00 + 1.50 stamp per licence renewal
(×2) and 100.00 of a passport fee; TREASURY the passport's 5.00 stamp;
POWER a 123.00 electricity bill. Commission stays with the post office.
"""

import csv
import io
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils.translation import override

from core.clock import local_today, value_date_for, zone
from core.errors import DomainError, InvalidState, NotAllowed
from counter.models import Agency, FeeComponent, Payment, PaymentLine, Service
from counter.services import payments
from float_management import services as till
from float_management.models import Account, SessionStatus, Transfer, TransferKind
from float_management.verify import ledger_verify
from settlement.models import SettlementBatch, SettlementItem
from settlement.selectors import settlement_confirmation, settlement_csv
from settlement.services import BANK_KEY, settlement_run
from tests.scenario import (
    BILL,
    LICENCE,
    a_day,
    close_session,
    day_is_over,
    day_of,
    exact_counts,
    key,
    passport_service,
    pay_cash,
    payments_of_a_day,
    treasury,
)

# The scenario's fixtures (named here so pytest finds them).
SCENARIO_FIXTURES = (a_day, day_is_over, passport_service, payments_of_a_day, treasury)


# --- Settlement ------------------------------------------------------------------------------


def test_each_agency_gets_one_batch_with_its_share_of_every_payment(
    a_day, head_office, day_is_over
):
    day = day_of(a_day["bill"])
    batches = settlement_run(business_day=day, by=head_office)

    assert [(b.agency.code, b.total, b.items_count) for b in batches] == [
        ("LOCAL", 2 * 5_150 + 10_000, 3),
        ("POWER", 12_300, 1),
        ("TREASURY", 500, 1),
    ]
    assert {b.value_date for b in batches} == {value_date_for(day)}
    assert {b.business_day for b in batches} == {day}
    items = {
        (i.batch.agency.code, i.payment_id): i.amount
        for i in SettlementItem.objects.select_related("batch__agency")
    }
    renewal_1, renewal_2 = a_day["renewals"]
    assert items == {
        ("LOCAL", renewal_1.pk): 5_150,
        ("LOCAL", renewal_2.pk): 5_150,
        ("LOCAL", a_day["passport"].pk): 10_000,
        ("POWER", a_day["bill"].pk): 12_300,
        ("TREASURY", a_day["passport"].pk): 500,
    }


def test_batch_totals_equal_the_agency_lines_of_the_payments(a_day, head_office, day_is_over):
    batches = settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    standing = Payment.objects.filter(void_transfer__isnull=True)
    owed = sum(
        line.amount
        for p in standing
        for line in p.lines.select_related("component")
        if line.component.kind != FeeComponent.Kind.COMMISSION
    )
    assert sum(b.total for b in batches) == owed == 33_100
    assert sum(b.items_count for b in batches) == SettlementItem.objects.count() == 5


def test_each_batch_posts_one_transfer_from_the_payables_to_the_head_office_bank(
    a_day, head_office, day_is_over
):
    batches = settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == len(batches) == 3
    local = batches[0]
    legs = {e.account.key: e.amount for e in local.transfer.entries.select_related("account")}
    assert legs == {
        "payable:LOCAL:LIC-RENEW:fee:A0001": 10_000,
        "payable:LOCAL:LIC-RENEW:stamp:A0001": 300,
        "payable:LOCAL:PASSPORT:fee:A0001": 10_000,
        BANK_KEY: -20_300,
    }
    assert local.transfer.created_by == head_office

    balances = dict(Account.objects.values_list("key", "balance"))
    assert all(balances[k] == 0 for k in balances if k.startswith("payable:"))
    assert balances[BANK_KEY] == -33_100  # paid out of the bank to the agencies
    assert balances["commission:commission:A0001"] == 2 * 300 + 200 + 250  # the network's
    assert ledger_verify().ok


def test_running_a_day_twice_posts_once_and_returns_the_same_batches(
    a_day, head_office, day_is_over
):
    day = day_of(a_day["bill"])
    first = settlement_run(business_day=day, by=head_office)
    transfers = Transfer.objects.count()
    second = settlement_run(business_day=day, by=head_office)
    assert [b.pk for b in second] == [b.pk for b in first]
    assert Transfer.objects.count() == transfers
    assert SettlementBatch.objects.count() == 3 and SettlementItem.objects.count() == 5
    assert ledger_verify().ok


def test_a_second_run_refuses_when_asked_not_to_be_idempotent(a_day, head_office, day_is_over):
    day = day_of(a_day["bill"])
    settlement_run(business_day=day, by=head_office)
    transfers = Transfer.objects.count()
    with override("en"), pytest.raises(InvalidState, match="already settled"):
        settlement_run(business_day=day, by=head_office, idempotent=False)
    assert Transfer.objects.count() == transfers


def test_the_database_refuses_a_payment_in_two_batches(a_day, head_office, day_is_over):
    day = day_of(a_day["bill"])
    (local, *_others) = settlement_run(business_day=day, by=head_office)
    item = local.items.first()
    other_day = SettlementBatch.objects.create(
        agency=local.agency,
        business_day=day - timedelta(days=7),
        value_date=day,
        total=item.amount,
        items_count=1,
        created_by=head_office,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementItem.objects.create(
            batch=other_day, payment=item.payment, agency=local.agency, amount=item.amount
        )


def test_a_settled_payment_moved_to_another_day_is_not_settled_again(
    a_day, head_office, day_is_over, monkeypatch
):
    day = day_of(a_day["bill"])
    settlement_run(business_day=day, by=head_office)
    renewal = a_day["renewals"][0]
    # As if the payment had been stamped a day later (a clock or time zone fix).
    Payment.objects.filter(pk=renewal.pk).update(created_at=renewal.created_at + timedelta(days=1))
    monkeypatch.setattr("settlement.services.local_today", lambda: day + timedelta(days=2))

    assert settlement_run(business_day=day + timedelta(days=1), by=head_office) == []
    assert SettlementItem.objects.filter(payment=renewal).count() == 1
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == 3


def test_voided_payments_are_not_settled(a_day, head_office, day_is_over):
    settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    assert not SettlementItem.objects.filter(payment=a_day["voided"]).exists()
    assert SettlementItem.objects.filter(payment__void_transfer__isnull=False).count() == 0


def test_a_payment_of_a_settled_day_can_no_longer_be_voided(
    a_day, agent_a, head_office, day_is_over
):
    settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    with pytest.raises(InvalidState):
        payments.void_request(
            agent=agent_a, payment=a_day["bill"], reason="too late", idempotency_key=key()
        )


def test_a_day_with_a_session_still_open_is_refused(payments_of_a_day, head_office, day_is_over):
    day = day_of(payments_of_a_day["bill"])
    with override("en"), pytest.raises(InvalidState, match=r"still open or closing \(A0001/1\)"):
        settlement_run(business_day=day, by=head_office)
    assert not SettlementBatch.objects.exists()
    assert not Transfer.objects.filter(kind=TransferKind.SETTLEMENT).exists()


def test_a_day_with_a_session_waiting_for_its_close_sign_off_is_refused(
    payments_of_a_day, open_till, agent_a, head_office, denominations, day_is_over
):
    open_till.account.refresh_from_db()
    till.till_session_submit_count(
        agent=agent_a,
        session=open_till,
        counts=exact_counts(open_till.account.balance, denominations),
        idempotency_key=key(),
    )
    open_till.refresh_from_db()
    assert open_till.status == SessionStatus.CLOSING
    with pytest.raises(InvalidState):
        settlement_run(business_day=day_of(payments_of_a_day["bill"]), by=head_office)
    assert not SettlementBatch.objects.exists()


def test_a_day_that_is_not_over_is_refused(a_day, head_office):
    with override("en"), pytest.raises(InvalidState, match="not over yet"):
        settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    assert not SettlementBatch.objects.exists()


def test_a_day_without_payments_settles_nothing(head_office, day_is_over):
    assert settlement_run(business_day=local_today() - timedelta(days=3), by=head_office) == []
    assert not Transfer.objects.filter(kind=TransferKind.SETTLEMENT).exists()


@pytest.mark.parametrize("who", ["agent_a", "supervisor_a", "regional_a", "auditor"])
def test_only_head_office_may_settle(a_day, personas, who, day_is_over):
    with pytest.raises(NotAllowed):
        settlement_run(business_day=day_of(a_day["bill"]), by=personas[who])
    assert not SettlementBatch.objects.exists()


# --- A catalog edited after payments --------------------------------------------------------
#
# Issue 12 (14): a service's agency or code edited after it was paid must not change who is
# paid for those payments. The edits below go straight to the model, as a shell or a data fix
# would (the admin refuses them for a service that has been paid).


def payable_balances() -> dict[str, int]:
    return dict(Account.objects.filter(key__startswith="payable:").values_list("key", "balance"))


def test_each_line_keeps_the_agency_account_and_service_code_it_credited(
    agent_a, passport_service, agency, treasury, open_till
):
    passport = pay_cash(agent_a, passport_service)

    credited = {
        line.component.code: (line.agency_id, line.account.key, line.service_code)
        for line in passport.lines.select_related("component", "account")
    }
    assert credited == {
        "fee": (agency.pk, "payable:LOCAL:PASSPORT:fee:A0001", "PASSPORT"),
        "stamp": (treasury.pk, "payable:TREASURY:PASSPORT:stamp:A0001", "PASSPORT"),
        "commission": (None, "commission:commission:A0001", "PASSPORT"),
    }
    entries = {e.account_id: -e.amount for e in passport.transfer.entries.filter(amount__lt=0)}
    assert {line.account_id: line.amount for line in passport.lines.all()} == entries


def test_a_service_moved_to_another_agency_pays_each_agency_what_its_payments_credited(
    agent_a,
    supervisor_a,
    bill_service,
    treasury,
    open_till,
    head_office,
    denominations,
    day_is_over,
):
    """Two 150.00 bills paid to POWER, the service moved to TREASURY, one more bill the next day."""
    power = bill_service.agency
    before = [pay_cash(agent_a, bill_service, amount=15_000, refs=BILL) for _ in range(2)]
    bill_service.agency = treasury
    bill_service.save()
    after = pay_cash(agent_a, bill_service, amount=15_000, refs=BILL)
    close_session(open_till, supervisor_a, denominations)
    # The first two were paid the day before (settled as that day's).
    for payment in before:
        Payment.objects.filter(pk=payment.pk).update(
            created_at=payment.created_at - timedelta(days=1)
        )
    today = day_of(after)

    (first,) = settlement_run(business_day=today - timedelta(days=1), by=head_office)
    assert (first.agency, first.total, first.items_count) == (power, 30_000, 2)
    assert payable_balances() == {
        "payable:POWER:ELEC-BILL:bill:A0001": 0,  # nothing stranded
        "payable:TREASURY:ELEC-BILL:bill:A0001": 15_000,  # the next day's money, untouched
    }

    (second,) = settlement_run(business_day=today, by=head_office)
    assert (second.agency, second.total, second.items_count) == (treasury, 15_000, 1)
    assert set(payable_balances().values()) == {0}
    assert ledger_verify().ok


def test_a_day_paid_before_and_after_a_move_is_settled_to_both_agencies(
    agent_a,
    supervisor_a,
    bill_service,
    treasury,
    open_till,
    head_office,
    denominations,
    day_is_over,
):
    before = pay_cash(agent_a, bill_service, amount=15_000, refs=BILL)
    bill_service.agency = treasury
    bill_service.save()
    after = pay_cash(agent_a, bill_service, amount=20_000, refs=BILL)
    close_session(open_till, supervisor_a, denominations)

    batches = settlement_run(business_day=day_of(after), by=head_office)

    assert [(b.agency.code, b.total) for b in batches] == [("POWER", 15_000), ("TREASURY", 20_000)]
    items = set(SettlementItem.objects.values_list("agency__code", "payment_id", "amount"))
    assert items == {("POWER", before.pk, 15_000), ("TREASURY", after.pk, 20_000)}
    assert set(payable_balances().values()) == {0}


def test_a_renamed_service_code_still_settles_its_day(
    agent_a,
    supervisor_a,
    fixed_service,
    citizen,
    open_till,
    head_office,
    denominations,
    day_is_over,
):
    renewal = pay_cash(agent_a, fixed_service, citizen=citizen, refs=LICENCE)
    close_session(open_till, supervisor_a, denominations)
    Service.objects.filter(pk=fixed_service.pk).update(code="LIC-RENEW-R")

    (batch,) = settlement_run(business_day=day_of(renewal), by=head_office)

    assert (batch.agency.code, batch.total) == ("LOCAL", 5_150)
    assert set(payable_balances().values()) == {0}
    assert not Account.objects.filter(key__contains="LIC-RENEW-R").exists()
    rows = list(csv.reader(io.StringIO(settlement_csv(batch))))
    assert rows[1][:2] == [renewal.reference, "LIC-RENEW"]  # the code it was paid under


def test_a_renamed_agency_code_still_settles_its_day(
    agent_a,
    supervisor_a,
    fixed_service,
    agency,
    citizen,
    open_till,
    head_office,
    denominations,
    day_is_over,
):
    renewal = pay_cash(agent_a, fixed_service, citizen=citizen, refs=LICENCE)
    close_session(open_till, supervisor_a, denominations)
    Agency.objects.filter(pk=agency.pk).update(code="LOCAL-2")

    (batch,) = settlement_run(business_day=day_of(renewal), by=head_office)

    assert (batch.agency, batch.total) == (agency, 5_150)
    assert set(payable_balances().values()) == {0}


def test_a_payment_line_that_disagrees_with_its_ledger_entry_settles_nothing(
    a_day, head_office, day_is_over
):
    renewal = a_day["renewals"][0]
    line = renewal.lines.get(component__code="fee")
    wrong = Account.objects.get(key="payable:LOCAL:PASSPORT:fee:A0001")
    PaymentLine.objects.filter(pk=line.pk).update(account=wrong)

    with override("en"), pytest.raises(InvalidState, match="do not match the ledger"):
        settlement_run(business_day=day_of(renewal), by=head_office)
    assert not SettlementBatch.objects.exists()


# --- The file and the confirmation ------------------------------------------------------------


def test_the_settlement_file_has_one_line_per_payment_and_a_control_line(
    a_day, head_office, day_is_over
):
    local, power, _treasury = settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    rows = list(csv.reader(io.StringIO(settlement_csv(local))))

    assert rows[0] == [
        "reference",
        "service_code",
        "budget_item",
        "amount_egp",
        "branch_code",
        "paid_at",
    ]
    renewal_1, renewal_2 = a_day["renewals"]
    passport = a_day["passport"]
    assert [r[:5] for r in rows[1:-1]] == [
        [renewal_1.reference, "LIC-RENEW", "1/2/3/45", "51.50", "A0001"],
        [renewal_2.reference, "LIC-RENEW", "1/2/3/45", "51.50", "A0001"],
        [passport.reference, "PASSPORT", "7/7/7", "100.00", "A0001"],
    ]
    assert rows[1][5] == renewal_1.created_at.astimezone(zone()).isoformat(timespec="seconds")
    assert rows[1][5].endswith(("+02:00", "+03:00"))
    assert rows[-1] == ["CONTROL", "3", "", "203.00", "", ""]

    power_rows = list(csv.reader(io.StringIO(settlement_csv(power))))
    assert power_rows[1][3] == "123.00"  # no thousands separator, two decimals
    assert power_rows[-1] == ["CONTROL", "1", "", "123.00", "", ""]


def test_amounts_in_the_file_have_no_thousands_separator(
    agent_a, supervisor_a, bill_service, open_till, head_office, denominations, day_is_over
):
    bill = pay_cash(agent_a, bill_service, amount=1_234_550, refs=BILL, tendered=1_234_750)
    close_session(open_till, supervisor_a, denominations)
    (batch,) = settlement_run(business_day=day_of(bill), by=head_office)
    rows = list(csv.reader(io.StringIO(settlement_csv(batch))))
    assert rows[1][3] == "12345.50"
    assert rows[-1][3] == "12345.50"


def test_the_settlement_file_is_read_in_one_query(
    a_day, head_office, day_is_over, django_assert_num_queries
):
    local, *_ = settlement_run(business_day=day_of(a_day["bill"]), by=head_office)
    with django_assert_num_queries(1):
        settlement_csv(local)


def test_the_confirmation_gives_batch_value_date_total_and_count(a_day, head_office, day_is_over):
    day = day_of(a_day["bill"])
    _local, power, _treasury = settlement_run(business_day=day, by=head_office)
    confirmation = settlement_confirmation(power)
    assert (
        confirmation.batch_id,
        confirmation.agency_code,
        confirmation.business_day,
        confirmation.value_date,
        confirmation.total,
        confirmation.items_count,
        confirmation.transfer_id,
    ) == (power.pk, "POWER", day, value_date_for(day), 12_300, 1, power.transfer_id)


# --- The management command -------------------------------------------------------------------


def test_the_settle_command_prints_what_it_posted_and_posts_once(a_day, head_office, day_is_over):
    day = day_of(a_day["bill"]).isoformat()
    out = io.StringIO()
    call_command("settle", "--day", day, "--by", "head_office", stdout=out)
    text = out.getvalue()
    assert f"{day}: settled" in text
    assert "LOCAL" in text and "203.00" in text and "Total 331.00 EGP, 5 items." in text

    again = io.StringIO()
    call_command("settle", "--day", day, "--by", "head_office", stdout=again)
    assert "already settled, nothing posted" in again.getvalue()
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == 3


def test_the_settle_command_reports_a_refusal(payments_of_a_day, head_office, agent_a, day_is_over):
    day = day_of(payments_of_a_day["bill"]).isoformat()
    with pytest.raises(CommandError, match="still open"):
        call_command("settle", "--day", day, "--by", "head_office")
    with pytest.raises(CommandError, match="Only head office"):
        call_command("settle", "--day", day, "--by", "agent_a")
    with pytest.raises(CommandError, match="No active user"):
        call_command("settle", "--day", day, "--by", "nobody")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("settle", "--day", "15/03/2026", "--by", "head_office")


# --- Concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_day_post_once(a_day, head_office, day_is_over):
    day = day_of(a_day["bill"])
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append([b.pk for b in settlement_run(business_day=day, by=head_office)])
        except DomainError as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 4 and all(r == results[0] for r in results)
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == 3
    assert SettlementItem.objects.count() == 5
    assert ledger_verify().ok


# --- Admin ---------------------------------------------------------------------------------------


def test_holidays_are_edited_in_the_admin_and_batches_only_read(rf, admin_user):
    from django.contrib import admin

    from core.admin import PublicHolidayAdmin
    from core.models import PublicHoliday
    from settlement import admin as settlement_admin

    request = rf.get("/")
    request.user = admin_user
    holidays = PublicHolidayAdmin(PublicHoliday, admin.site)
    assert holidays.has_add_permission(request) and holidays.has_change_permission(request)
    for model, model_admin in [
        (SettlementBatch, settlement_admin.SettlementBatchAdmin),
        (SettlementItem, settlement_admin.SettlementItemAdmin),
    ]:
        read_only = model_admin(model, admin.site)
        assert read_only.has_view_permission(request)
        assert not read_only.has_add_permission(request)
        assert not read_only.has_change_permission(request)
        assert not read_only.has_delete_permission(request)
    assert admin.site.is_registered(SettlementBatch)
