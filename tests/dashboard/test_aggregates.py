"""The boards' day tallies: a cached snapshot plus a live delta, always equal to a full count."""

import threading
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from counter.models import Payment
from counter.services import payments
from dashboard import aggregates, selectors
from float_management.services import request_decide


@pytest.fixture
def clock(monkeypatch):
    """The aggregates' present, moved by the test; LAG is one minute."""
    moment = {"now": timezone.localtime().replace(hour=12, minute=0, second=30, microsecond=0)}
    monkeypatch.setattr(aggregates, "_clock", lambda: moment["now"])
    monkeypatch.setattr(aggregates, "LAG", timedelta(seconds=60))
    return moment


def _at(clock, hh_mm_ss: str) -> datetime:
    h, m, s = (int(part) for part in hh_mm_ss.split(":"))
    return clock["now"].replace(hour=h, minute=m, second=s)


def _pay(agent, service, citizen, *, at: datetime, amount=None, refs=None) -> Payment:
    payment = payments.payment_post_cash(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=amount,
        references=refs or {"licence": "123456"},
        tendered=50_000,
        idempotency_key=uuid.uuid4().hex,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=at)
    return payment


def _void(payment: Payment, agent, supervisor, *, at: datetime) -> None:
    request = payments.void_request(
        agent=agent, payment=payment, reason="x", idempotency_key=uuid.uuid4().hex
    )
    request_decide(request=request, supervisor=supervisor, approve=True)
    Payment.objects.filter(pk=payment.pk).update(voided_at=at)


def _counted_in_full(now: datetime):
    """What the boards used to compute: every standing payment of the day, counted now."""
    standing = Payment.objects.filter(
        created_at__gte=selectors.day_start(now), void_transfer__isnull=True
    )
    by_governorate = {
        row["branch__governorate_id"]: (row["n"], row["total"])
        for row in standing.values("branch__governorate_id")
        .annotate(n=Count("id"), total=Sum("total"))
        .order_by()
    }
    by_branch = {
        row["branch_id"]: (row["n"], row["total"])
        for row in standing.values("branch_id")
        .annotate(n=Count("id"), total=Sum("total"))
        .order_by()
    }
    services = [
        (row["service__code"], row["n"], row["total"])
        for row in standing.values("service__code")
        .annotate(n=Count("id"), total=Sum("total"))
        .order_by("-n", "service__code")[:10]
    ]
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    made = [
        timezone.localtime(at).replace(second=0, microsecond=0)
        for at in Payment.objects.filter(
            created_at__gte=end - timedelta(hours=1), created_at__lt=end
        ).values_list("created_at", flat=True)
    ]
    per_minute = [made.count(end - timedelta(minutes=60 - i)) for i in range(60)]
    return by_governorate, by_branch, services, per_minute


def _as_shown(governorate, now: datetime):
    nation = selectors.nation_board(now=now)
    local = selectors.governorate_board(governorate, now=now)
    return (
        {r["governorate"].pk: (r["payments"], r["total"]) for r in nation.rows if r["payments"]},
        {r["branch"].pk: (r["payments"], r["total"]) for r in local.rows if r["payments"]},
        [(s["service__code"], s["n"], s["total"]) for s in nation.extra["top_services"]],
        nation.extra["per_minute"],
    )


def _snapshot_boundary(scope: str, now: datetime) -> datetime:
    key = aggregates.snapshot_key(scope, selectors.day_start(now))
    return aggregates.cache.get(key).boundary


@pytest.fixture
def day(agent_a, supervisor_a, fixed_service, bill_service, citizen, open_till, clock):
    """Payments on both sides of the 11:59:00 boundary of a render at 12:00:30."""
    made = {
        "early": _pay(agent_a, fixed_service, citizen, at=_at(clock, "09:00:00")),
        "voided_early": _pay(agent_a, fixed_service, citizen, at=_at(clock, "09:30:00")),
        "before": _pay(agent_a, fixed_service, citizen, at=_at(clock, "11:58:50")),
        "after": _pay(agent_a, fixed_service, citizen, at=_at(clock, "11:59:30")),
        "bill": _pay(
            agent_a,
            bill_service,
            None,
            at=_at(clock, "12:00:10"),
            amount=12_345,
            refs={"bill": "123456789012"},
        ),
        "yesterday": _pay(
            agent_a, fixed_service, citizen, at=_at(clock, "09:00:00") - timedelta(days=1)
        ),
    }
    _void(made["voided_early"], agent_a, supervisor_a, at=_at(clock, "10:00:00"))
    return made


def test_the_boards_equal_a_full_count_across_a_snapshot_boundary(
    day, clock, agent_a, supervisor_a, fixed_service, citizen, branch_a
):
    cairo = branch_a.governorate
    now = clock["now"]
    shown = _as_shown(cairo, now)
    assert shown == _counted_in_full(now)
    assert shown[0] == {cairo.pk: (4, 3 * 5_450 + 12_545)}
    assert sum(shown[3]) == 3  # 11:58:50, 11:59:30 and 12:00:10
    assert _snapshot_boundary("nation", now) == _at(clock, "11:59:00")

    # After the snapshot: a payment dated before the minute closed commits late, a payment
    # counted by the snapshot is voided, and one more is paid.
    _pay(agent_a, fixed_service, citizen, at=_at(clock, "11:59:50"))
    _void(day["before"], agent_a, supervisor_a, at=_at(clock, "12:00:40"))
    _pay(agent_a, fixed_service, citizen, at=_at(clock, "12:00:45"))
    clock["now"] = later = _at(clock, "12:00:50")
    shown = _as_shown(cairo, later)
    assert _snapshot_boundary("nation", later) == _at(clock, "11:59:00")  # still the same one
    assert shown == _counted_in_full(later)
    assert shown[0] == {cairo.pk: (5, 4 * 5_450 + 12_545)}
    assert sum(shown[3]) == 5  # the sparkline counts payments made, voided or not

    clock["now"] = next_minute = _at(clock, "12:01:10")
    shown = _as_shown(cairo, next_minute)
    assert _snapshot_boundary("nation", next_minute) == _at(clock, "12:00:00")
    assert _snapshot_boundary(f"governorate:{cairo.pk}", next_minute) == _at(clock, "12:00:00")
    assert shown == _counted_in_full(next_minute)


def test_a_cache_miss_and_a_cache_hit_give_the_same_figures_in_the_same_queries(
    day, clock, branch_a, django_assert_num_queries
):
    now = clock["now"]
    with django_assert_num_queries(6):
        missed_nation = selectors.nation_board(now=now)
    # The governorate board's four, one for its integrity alerts, one for the agencies.
    with django_assert_num_queries(6):
        missed_local = selectors.governorate_board(branch_a.governorate, now=now)
    with django_assert_num_queries(6):
        hit_nation = selectors.nation_board(now=now)
    with django_assert_num_queries(6):
        hit_local = selectors.governorate_board(branch_a.governorate, now=now)
    assert (hit_nation.payments, hit_nation.total) == (missed_nation.payments, missed_nation.total)
    assert hit_nation.extra["top_services"] == missed_nation.extra["top_services"]
    assert [r["total"] for r in hit_local.rows] == [r["total"] for r in missed_local.rows]
    assert (hit_nation.payments, hit_local.payments) == (4, 4)
    assert [s["service__code"] for s in hit_nation.extra["top_services"]] == [
        "LIC-RENEW",
        "ELEC-BILL",
    ]


def test_while_another_process_rebuilds_a_board_counts_live_or_from_the_last_snapshot(
    day, clock, branch_a, agent_a, fixed_service, citizen
):
    cairo = branch_a.governorate
    now = clock["now"]
    # Another process holds the nation's lock and there is no snapshot yet: counted live.
    other = aggregates.DayTally(
        "nation",
        payments=Payment.objects.all(),
        keys=["branch__governorate_id"],
        start=selectors.day_start(now),
        now=now,
    )
    assert other.rebuild
    assert selectors.nation_board(now=now).payments == 4
    assert aggregates.cache.get(other.key) is None
    aggregates.cache.delete(f"{other.key}:lock")

    _as_shown(cairo, now)  # a snapshot at 11:59:00
    _pay(agent_a, fixed_service, citizen, at=_at(clock, "12:03:00"))
    clock["now"] = later = _at(clock, "12:05:00")
    aggregates.cache.add(f"{other.key}:lock", True)  # the other process rebuilds again
    shown = _as_shown(cairo, later)
    assert _snapshot_boundary("nation", later) == _at(clock, "11:59:00")  # the old one, used
    assert shown == _counted_in_full(later)
    assert shown[0] == {cairo.pk: (5, 4 * 5_450 + 12_545)}


def test_a_board_as_at_yesterday_counts_from_yesterdays_midnight_as_a_full_count_does(
    day, clock, branch_a
):
    yesterday = clock["now"] - timedelta(days=1)
    full = _counted_in_full(yesterday)
    assert full[0] == {branch_a.governorate.pk: (5, 4 * 5_450 + 12_545)}
    assert _as_shown(branch_a.governorate, yesterday) == full
    assert _snapshot_boundary("nation", yesterday) == _at(clock, "11:59:00") - timedelta(days=1)
    assert _as_shown(branch_a.governorate, yesterday) == full  # from that day's snapshot


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_still_uncommitted_when_the_snapshot_is_taken_is_counted_once_it_commits(
    agent_a, fixed_service, citizen, open_till, branch_a, monkeypatch
):
    """However long a payment's transaction runs, its row lands after the snapshot's boundary."""
    real = timezone.now()
    if timezone.localtime(real).hour == 23 and timezone.localtime(real).minute >= 55:
        pytest.skip("the day ends before the test does")
    later = real + timedelta(minutes=3)  # the payment's transaction is 3 minutes old by then
    monkeypatch.setattr(aggregates, "_clock", lambda: later)
    monkeypatch.setattr(aggregates, "LAG", timedelta(0))
    posted, release = threading.Event(), threading.Event()

    def slow_payment():
        try:
            with transaction.atomic():
                payments.payment_post_cash(
                    agent=agent_a,
                    service=fixed_service,
                    citizen=citizen,
                    amount=None,
                    references={"licence": "123456"},
                    tendered=10_000,
                    idempotency_key=uuid.uuid4().hex,
                )
                posted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_payment)
    thread.start()
    try:
        assert posted.wait(10)
        assert selectors.nation_board(now=later).payments == 0  # not committed yet
        boundary = _snapshot_boundary("nation", later)
    finally:
        release.set()
        thread.join(10)
    payment = Payment.objects.get()
    assert payment.created_at < later.replace(second=0, microsecond=0)  # before the closed minute
    board = selectors.nation_board(now=later)
    assert (board.payments, board.total) == (1, 5_450)
    assert boundary <= payment.created_at  # the open transaction held the boundary back
    local = selectors.governorate_board(branch_a.governorate, now=later)
    assert (local.payments, local.total) == (1, 5_450)


def test_with_the_cache_down_the_boards_count_live(day, clock, branch_a, monkeypatch):
    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("redis is down")

            return fail

    monkeypatch.setattr(aggregates, "cache", Down())
    now = clock["now"]
    assert _as_shown(branch_a.governorate, now) == _counted_in_full(now)
