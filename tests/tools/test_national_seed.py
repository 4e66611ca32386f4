"""seed_national: a small national network through the same code path as the full one.

On SQLite the rows go in with bulk_create, on PostgreSQL with COPY; the
tests are the same on both.
"""

import re
import uuid
from collections import Counter as Tally
from datetime import datetime, time, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from agents.models import Branch, Counter, Governorate, Profile, Role
from core.clock import zone
from counter.models import Citizen, FeeComponent, Payment, PaymentLine, Service
from counter.services.catalog import component_account, service_quote
from counter.services.payments import payment_post_cash
from dashboard import selectors
from float_management.models import (
    Account,
    AccountKind,
    Entry,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    Transfer,
)
from float_management.verify import ledger_verify
from tools.national import (
    NationalNetworkExists,
    NationalOptions,
    NationalSeedError,
    national_seed,
)

SMALL = NationalOptions(branches=30, counters=60, history_days=2, payments_per_counter_day=3)


@pytest.fixture
def seeded(db):
    return national_seed(options=SMALL)


def _today():
    return timezone.localdate(timezone=zone())


def test_it_spreads_the_branches_over_every_governorate(seeded):
    branches = Branch.objects.filter(code__regex=r"^[0-9]{6}$")
    assert branches.count() == 30
    per_governorate = Tally(b.code[:2] for b in branches)
    governorates = set(Governorate.objects.filter(abroad=False).values_list("code", flat=True))
    assert set(per_governorate) == governorates
    cairo = branches.get(code="010001")
    assert (cairo.name_ar, cairo.name_en) == ("مكتب بريد القاهرة 1", "Cairo Post Office 1")
    assert all(b.governorate.code == b.code[:2] for b in branches)


def test_every_branch_has_a_counter_an_agent_at_each_and_a_supervisor(seeded):
    assert Counter.objects.count() == 60
    assert not Branch.objects.annotate(n=Count("counters")).filter(n=0).exists()
    users = get_user_model().objects
    for counter in Counter.objects.select_related("branch"):
        agent = users.get(username=f"n.agent.{counter.branch.code}.{counter.number}")
        assert (agent.profile.role, agent.profile.branch) == (Role.AGENT, counter.branch)
    roles = Tally(Profile.objects.values_list("role", flat=True))
    assert roles == {
        Role.AGENT: 60,
        Role.BRANCH_SUPERVISOR: 30,
        Role.REGIONAL_SUPERVISOR: 27,
        Role.HEAD_OFFICE: 1,
        Role.AUDITOR: 1,
    }
    assert users.get(username="n.reg.21").profile.governorate.code == "21"
    head = users.get(username="n.headoffice")
    assert head.check_password("counter-demo-2026") and head.is_staff
    assert users.get(username="n.auditor").user_permissions.filter(codename="view_payment")


def test_every_counter_has_one_open_till_holding_its_approved_float(seeded):
    sessions = TillSession.objects.filter(status=SessionStatus.OPEN).select_related("account")
    assert sorted(s.counter_id for s in sessions) == sorted(
        Counter.objects.values_list("pk", flat=True)
    )
    for session in sessions:
        request = session.requests.get()
        assert request.kind == RequestKind.OPENING_FLOAT
        decision = request.decision
        assert decision.approved and decision.decided_by_id != request.requested_by_id
        assert session.account.balance == request.amount
        assert sorted(decision.transfer.entries.values_list("amount", flat=True)) == [
            -request.amount,
            request.amount,
        ]
        assert session.agent.profile.branch_id == session.branch_id


def test_the_ledger_verifies_after_seeding(seeded):
    report = ledger_verify()
    assert report.ok, report.problems
    # Bank-in per branch; each history day an opening float, 3 payments and a close per
    # counter; today an opening float per counter.
    assert report.transfers == 30 + 2 * 60 * (1 + 3 + 1) + 60
    vaults = Account.objects.filter(kind=AccountKind.VAULT)
    assert vaults.count() == 30 and not vaults.filter(balance__lte=0).exists()


def test_the_history_is_paid_within_opening_hours_and_closed_back_into_the_vault(seeded):
    payments = Payment.objects.all()
    assert payments.count() == 2 * 60 * 3
    days = {_today() - timedelta(days=1), _today() - timedelta(days=2)}
    for payment in payments:
        local = timezone.localtime(payment.created_at, zone())
        assert local.date() in days and 8 <= local.hour < 16
        assert payment.change == payment.tendered - payment.total >= 0
    lines = dict(
        PaymentLine.objects.values_list("payment_id").annotate(total=Sum("amount")).order_by()
    )
    assert all(lines[p.pk] == p.total for p in payments)
    closed = TillSession.objects.filter(status=SessionStatus.CLOSED).select_related("account")
    assert closed.count() == 2 * 60
    for session in closed:
        paid = session.payments.aggregate(total=Sum("total"))["total"]
        opening = session.requests.get(kind=RequestKind.OPENING_FLOAT).amount
        assert session.counted == session.expected == opening + paid
        assert session.variance == 0 and session.account.balance == 0
        assert session.counts.get().total == session.counted
        assert session.requests.get(kind=RequestKind.CLOSE).decision.approved


def test_each_fee_is_credited_to_the_account_the_catalog_service_names(seeded):
    payment = Payment.objects.filter(service__code="LA-101").select_related("branch").first()
    service = Service.objects.get(code="LA-101")
    credited = {
        entry.account.key: -entry.amount
        for entry in payment.transfer.entries.select_related("account")
        if entry.amount < 0
    }
    expected = {
        component_account(line.component, service, payment.branch).key: line.amount
        for line in payment.lines.select_related("component__schedule")
    }
    assert credited == expected


def test_every_seeded_payment_is_what_the_counters_quote_gives_for_its_day(seeded):
    """The seed prices through the counter's rules; if they drifted apart this would fail."""
    sold = set()
    payments = Payment.objects.select_related("service__agency", "branch", "schedule")
    for payment in payments:
        lines = list(payment.lines.select_related("component__agency").order_by("pk"))
        due = [line.amount for line in lines if line.component.kind == FeeComponent.Kind.PRINCIPAL]
        quote = service_quote(
            service=payment.service,
            amount=due[0] if due else None,
            day=timezone.localtime(payment.created_at, zone()).date(),
        )
        assert (payment.schedule, payment.total) == (quote.schedule, quote.total)
        assert [(line.component, line.amount) for line in lines] == list(quote.lines)
        assert [line.account_id for line in lines] == [
            component_account(component, payment.service, payment.branch).pk
            for component, _amount in quote.lines
        ]
        sold.add((payment.service.code, payment.service.amount_kind))
    kinds = {kind for _code, kind in sold}
    assert len(sold) >= 8 and kinds == {Service.AmountKind.FIXED, Service.AmountKind.VARIABLE}


def test_the_counter_posts_the_same_lines_as_the_seed_for_the_same_sale(seeded):
    """Same branch, service, amount and schedule: the payment service writes the seed's lines."""

    def lines_of(payment):
        return [
            (line.component_id, line.amount, line.agency_id, line.account_id, line.service_code)
            for line in payment.lines.order_by("pk")
        ]

    compared = set()
    yesterday = selectors.day_start(timezone.now()) - timedelta(days=1)
    for seeded_payment in (
        Payment.objects.filter(created_at__gte=yesterday)
        .select_related("service", "citizen", "branch")
        .order_by("pk")
    ):
        service = seeded_payment.service
        if service.code in compared:
            continue
        principal = seeded_payment.lines.filter(component__kind=FeeComponent.Kind.PRINCIPAL)
        due = principal.get().amount if principal.exists() else None
        if service_quote(service=service, amount=due, day=_today()).schedule != (
            seeded_payment.schedule
        ):
            continue  # the fees changed since: not the same sale
        session = (
            TillSession.objects.filter(status=SessionStatus.OPEN, branch=seeded_payment.branch)
            .select_related("agent")
            .first()
        )
        payment = payment_post_cash(
            agent=session.agent,
            service=service,
            citizen=seeded_payment.citizen,
            amount=due,
            references=seeded_payment.references,
            tendered=seeded_payment.total,
            idempotency_key=uuid.uuid4().hex,
        )
        assert payment.total == seeded_payment.total
        assert lines_of(payment) == lines_of(seeded_payment)
        compared.add(service.code)
    assert {"EL-201", "LA-106"} <= compared and len(compared) >= 6
    assert ledger_verify().ok


def test_a_seeded_agent_takes_a_payment_through_the_service(seeded):
    session = TillSession.objects.filter(status=SessionStatus.OPEN).select_related("agent").first()
    accounts = Account.objects.count()
    payment = payment_post_cash(
        agent=session.agent,
        service=Service.objects.get(code="LA-106"),
        citizen=Citizen.objects.filter(registered_branch=session.branch).first(),
        amount=None,
        references={"licence_no": "1234/2026"},
        tendered=5_000,
        idempotency_key=uuid.uuid4().hex,
    )
    assert payment.session == session
    assert Account.objects.count() == accounts  # every fee account was already there
    assert ledger_verify().ok


def test_the_boards_read_the_seeded_network(seeded):
    last_day = _today() - timedelta(days=1)
    evening = datetime.combine(last_day, time(16, 0), tzinfo=zone())
    nation = selectors.nation_board(now=evening)
    assert nation.payments == 60 * 3
    assert sum(row["open"] for row in nation.rows) == 60
    cairo = Governorate.objects.get(code="01")
    board = selectors.governorate_board(cairo, now=evening)
    assert [row["branch"].code[:2] for row in board.rows] == ["01"] * len(board.rows)
    assert (
        board.payments
        == Payment.objects.filter(
            branch__governorate=cairo, created_at__gte=selectors.day_start(evening)
        ).count()
    )


def test_a_second_run_refuses_and_writes_nothing(seeded):
    before = (Transfer.objects.count(), Entry.objects.count(), Payment.objects.count())
    with pytest.raises(NationalNetworkExists, match="already exists.*30 of its branches"):
        national_seed(options=SMALL)
    with pytest.raises(CommandError, match="already exists"):
        call_command("seed_national", "--branches", "5", "--counters", "5", stdout=StringIO())
    assert (Transfer.objects.count(), Entry.objects.count(), Payment.objects.count()) == before


def test_it_refuses_fewer_counters_than_branches(db):
    with pytest.raises(NationalSeedError, match="Every branch needs a counter"):
        national_seed(options=NationalOptions(branches=10, counters=9))
    assert not Branch.objects.exists()


def test_the_command_prints_its_stages_and_row_counts(db):
    out = StringIO()
    call_command(
        "seed_national",
        "--branches=30",
        "--counters=60",
        "--history-days=1",
        "--payments-per-counter-day=2",
        stdout=out,
    )
    text = out.getvalue()
    method = "COPY" if connection.vendor == "postgresql" else "bulk_create"
    assert f"Writing with {method}." in text
    assert "history (1 days)" in text and "open tills today" in text
    assert re.search(r"counter\.Payment +120 ", text)
    assert Request.objects.filter(kind=RequestKind.CLOSE).count() == 60


def test_bench_boards_times_both_boards(seeded):
    out = StringIO()
    call_command("bench_boards", "--runs=1", stdout=out)
    text = out.getvalue()
    assert "governorate_board(01 Cairo)" in text and "nation_board()" in text
    assert text.count("median") == 2 and "180 payments today" in text


@pytest.mark.postgres
def test_bulk_create_builds_the_same_network_on_postgresql(db):
    report = national_seed(options=NationalOptions(**{**SMALL.__dict__, "use_copy": False}))
    assert report.method == "bulk_create"
    assert Payment.objects.count() == 2 * 60 * 3
    assert ledger_verify().ok
