"""The session report and the daily reports: right figures, few queries, equal to the ledger."""

import csv
import io
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db.models import Q

from core.clock import day_bounds
from counter.services import cards, payments
from float_management import services as till
from float_management.models import AccountKind, Entry, TransferKind
from receipts.reports.data import daily_report, daily_report_csv, session_report
from tests.factories import fund_vault
from tests.scenario import (
    BILL,
    LICENCE,
    close_session,
    day_of,
    key,
    passport_service,
    pay_cash,
    payments_of_a_day,
    treasury,
    void,
)

# The scenario's fixtures (named here so pytest finds them).
SCENARIO_FIXTURES = (passport_service, payments_of_a_day, treasury)

# --- The session report ---------------------------------------------------------------------


@pytest.fixture
def busy_till(agent_a, supervisor_a, fixed_service, bill_service, citizen, open_till):
    """A till's day with a bit of everything; the session is still open."""
    top_up = till.float_request_top_up(
        agent=agent_a, session=open_till, amount=20_000, idempotency_key=key()
    )
    till.request_decide(request=top_up, supervisor=supervisor_a, approve=True)
    pay_cash(agent_a, fixed_service, citizen=citizen, refs=LICENCE)  # 54.50
    pay_cash(agent_a, bill_service, amount=10_000, refs=BILL)  # 102.00
    void(pay_cash(agent_a, bill_service, amount=5_000, refs=BILL), agent_a, supervisor_a)
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=key())
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=30_000, idempotency_key=key())
    payments.payment_post_card(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references=LICENCE,
        card_number=card.number,
        pin="1234",
        idempotency_key=key(),
    )
    till.cash_drop(agent=agent_a, session=open_till, amount=50_000, idempotency_key=key())
    return open_till


def test_the_session_report_adds_up_the_tills_day(busy_till, supervisor_a, denominations):
    close_session(busy_till, supervisor_a, denominations, short_by=1_000)
    report = session_report(busy_till)

    assert report.opening_float == 100_000
    assert (report.float_top_ups.count, report.float_top_ups.total) == (1, 20_000)
    assert (report.cash_drops.count, report.cash_drops.total) == (1, 50_000)
    assert (report.card_top_ups.count, report.card_top_ups.total) == (1, 30_000)
    rows = {
        r.code: (r.cash.count, r.cash.total, r.card.count, r.card.total) for r in report.by_service
    }
    assert rows == {"LIC-RENEW": (1, 5_450, 1, 5_450), "ELEC-BILL": (1, 10_200, 0, 0)}
    assert (report.payments.count, report.payments.total) == (3, 21_100)
    assert [(v.service_code, v.total) for v in report.voids] == [("ELEC-BILL", 5_200)]

    expected = 100_000 + 20_000 + 5_450 + 10_200 + 30_000 - 50_000
    assert report.cash_in_out == expected == report.expected == busy_till.expected
    assert report.counted == expected - 1_000
    assert report.variance == -1_000


def test_before_the_sign_off_the_report_keeps_the_count_blind(busy_till):
    report = session_report(busy_till)
    assert not report.is_closed
    assert (report.counted, report.expected, report.variance) == (None, None, None)
    assert report.payments.count == 3  # the day so far is shown


def test_the_session_report_takes_six_queries_however_busy_the_day(
    busy_till, agent_a, fixed_service, citizen, django_assert_num_queries
):
    with django_assert_num_queries(6):
        session_report(busy_till)
    for _ in range(5):
        pay_cash(agent_a, fixed_service, citizen=citizen, refs=LICENCE)
    with django_assert_num_queries(6):
        assert session_report(busy_till).payments.count == 8


# --- Daily reports -------------------------------------------------------------------------------


@pytest.fixture
def till_b(agent_b, supervisor_b, counter_b, branch_b):
    fund_vault(branch=branch_b, supervisor=supervisor_b, witness=agent_b, amount=1_000_000)
    session = till.till_session_request_open(
        agent=agent_b, counter=counter_b, amount=100_000, idempotency_key=key()
    )
    till.request_decide(request=session.requests.get(), supervisor=supervisor_b, approve=True)
    session.refresh_from_db()
    return session


@pytest.fixture
def two_branches(payments_of_a_day, agent_b, bill_service, till_b):
    """Branch A's day (as in tests/scenario.py) and one electricity bill paid at branch B."""
    return {
        **payments_of_a_day,
        "bill_b": pay_cash(agent_b, bill_service, amount=40_000, refs=BILL),
    }


def test_the_branch_report_totals_by_service_budget_item_and_agency(two_branches, branch_a):
    report = daily_report(day=day_of(two_branches["bill"]), scope=branch_a)

    assert [(r.code, r.count, r.total, r.cash.total, r.card.total) for r in report.by_service] == [
        ("ELEC-BILL", 1, 12_500, 12_500, 0),
        ("LIC-RENEW", 2, 10_900, 10_900, 0),
        ("PASSPORT", 1, 10_750, 10_750, 0),
    ]
    assert [(r.budget_item, r.count, r.total) for r in report.by_budget_item] == [
        ("1/2/3/45", 2, 10_900),
        ("7/7/7", 1, 10_750),
        ("9/9/9", 1, 12_500),
    ]
    assert [(r.code, r.payments, r.total) for r in report.by_agency] == [
        ("LOCAL", 3, 20_300),
        ("POWER", 1, 12_300),
        ("TREASURY", 1, 500),
    ]
    assert report.commission == 2 * 300 + 200 + 250
    assert (report.payments.count, report.payments.total) == (4, 34_150)
    assert (report.voids.count, report.voids.total) == (1, 5_450)
    assert report.agencies_total + report.commission == report.payments.total


def test_each_scope_sees_its_own_payments(two_branches, branch_a, branch_b):
    day = day_of(two_branches["bill"])
    branch_b_report = daily_report(day=day, scope=branch_b)
    assert [(r.code, r.total) for r in branch_b_report.by_agency] == [("POWER", 40_000)]
    assert branch_b_report.payments.total == 40_200

    cairo = daily_report(day=day, scope=branch_a.governorate)
    assert cairo.payments.total == daily_report(day=day, scope=branch_a).payments.total == 34_150
    giza = daily_report(day=day, scope=branch_b.governorate)
    assert giza.payments.total == 40_200

    nation = daily_report(day=day, scope=None)
    assert nation.payments.total == 34_150 + 40_200
    assert [(r.code, r.total) for r in nation.by_agency] == [
        ("LOCAL", 20_300),
        ("POWER", 12_300 + 40_000),
        ("TREASURY", 500),
    ]
    assert nation.scope_kind == "nation" and cairo.scope_kind == "governorate"


def test_another_day_is_empty(two_branches, branch_a):
    report = daily_report(day=day_of(two_branches["bill"]) - timedelta(days=1), scope=None)
    assert report.by_service == [] and report.by_agency == []
    assert (report.payments.total, report.commission, report.voids.count) == (0, 0, 0)


def _ledger_figures(day, branch_filter: Q) -> tuple[dict[str, int], int]:
    """What the ledger credited to each agency and to commission in `day`: payments − voids."""
    start, end = day_bounds(day)
    by_agency: dict[str, int] = defaultdict(int)
    commission = 0
    for kind, account_key, amount in Entry.objects.filter(
        branch_filter,
        transfer__kind__in=[TransferKind.PAYMENT, TransferKind.VOID],
        transfer__created_at__gte=start,
        transfer__created_at__lt=end,
        account__kind__in=[AccountKind.PAYABLE, AccountKind.COMMISSION],
    ).values_list("account__kind", "account__key", "amount"):
        if kind == AccountKind.COMMISSION:
            commission -= amount  # credits are negative entries
        else:
            by_agency[account_key.split(":")[1]] -= amount  # payable:<agency>:<service>:<part>
    return dict(by_agency), commission


@pytest.mark.parametrize("scope_name", ["branch_a", "branch_b", "cairo", "giza", "nation"])
def test_report_totals_equal_the_ledger_for_the_same_day(
    two_branches, branch_a, branch_b, scope_name
):
    scope, branch_filter = {
        "branch_a": (branch_a, Q(transfer__branch=branch_a)),
        "branch_b": (branch_b, Q(transfer__branch=branch_b)),
        "cairo": (branch_a.governorate, Q(transfer__branch__governorate=branch_a.governorate)),
        "giza": (branch_b.governorate, Q(transfer__branch__governorate=branch_b.governorate)),
        "nation": (None, Q()),
    }[scope_name]
    day = day_of(two_branches["bill"])
    report = daily_report(day=day, scope=scope)
    ledger_by_agency, ledger_commission = _ledger_figures(day, branch_filter)

    assert {r.code: r.total for r in report.by_agency} == ledger_by_agency
    assert report.commission == ledger_commission
    assert report.payments.total == sum(ledger_by_agency.values()) + ledger_commission
    assert report.payments.total > 0


@pytest.mark.parametrize("scope_name", ["branch", "governorate", "nation"])
def test_a_daily_report_takes_three_queries_whatever_the_scope(
    two_branches, branch_a, scope_name, django_assert_num_queries
):
    scope = {"branch": branch_a, "governorate": branch_a.governorate, "nation": None}[scope_name]
    day = day_of(two_branches["bill"])
    with django_assert_num_queries(3):
        report = daily_report(day=day, scope=scope)
        daily_report_csv(report)  # reads nothing more


def test_the_daily_csv_has_a_row_per_service_budget_item_and_agency(two_branches, branch_a):
    report = daily_report(day=day_of(two_branches["bill"]), scope=branch_a)
    text = daily_report_csv(report)
    assert text.startswith(
        "\ufeffsection,code,name_ar,name_en,count,total_egp,cash_egp,card_egp,bankcard_egp,wallet_egp"
    )
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    by_section = defaultdict(list)
    for row in rows[1:]:
        by_section[row[0]].append(row)
    assert by_section["scope"] == [
        ["scope", "A0001", branch_a.name_ar, "Branch A", "", "", "", "", "", ""]
    ]
    assert [
        "service",
        "PASSPORT",
        "جواز سفر",
        "Passport",
        "1",
        "107.50",
        "107.50",
        "0.00",
        "0.00",
        "0.00",
    ] in (by_section["service"])
    assert ["budget_item", "1/2/3/45", "", "", "2", "109.00", "", "", "", ""] in by_section[
        "budget_item"
    ]
    assert ["agency", "LOCAL", "الوحدة المحلية", "Local unit", "3", "203.00", "", "", "", ""] in (
        by_section["agency"]
    )
    assert by_section["commission"] == [["commission", "", "", "", "", "10.50", "", "", "", ""]]
    assert by_section["voided"] == [["voided", "", "", "", "1", "54.50", "", "", "", ""]]
    assert by_section["total"] == [
        ["total", "", "", "", "4", "341.50", "341.50", "0.00", "0.00", "0.00"]
    ]


def test_a_past_report_keeps_its_agency_lines_after_the_catalog_is_edited(
    two_branches, bill_service, passport_service, treasury
):
    """Issue 12 (14): a service moved to another agency, or renamed, after it was paid."""
    day = day_of(two_branches["bill"])
    before = [
        (r.code, r.name_en, r.payments, r.total)
        for r in daily_report(day=day, scope=None).by_agency
    ]

    bill_service.agency = treasury
    bill_service.save()
    passport_service.code = "PASSPORT-2"
    passport_service.save()

    report = daily_report(day=day, scope=None)
    assert (
        [(r.code, r.name_en, r.payments, r.total) for r in report.by_agency]
        == before
        == [
            ("LOCAL", "Local unit", 3, 20_300),
            ("POWER", "Electricity", 2, 12_300 + 40_000),
            ("TREASURY", "Treasury", 1, 500),
        ]
    )
    ledger_by_agency, ledger_commission = _ledger_figures(day, Q())
    assert {r.code: r.total for r in report.by_agency} == ledger_by_agency
    assert report.commission == ledger_commission
