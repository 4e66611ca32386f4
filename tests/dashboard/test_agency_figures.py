"""The boards count, per agency, the notifications its system has not confirmed.

Waiting (pending and unknown, the latter also on its own), the oldest waiting's age,
and today's refusals; on the nation board, and on a branch's and a governorate's
for their own payments. A reload shows them from the database; a change of the
outbox (agencies.signals.notification_changed, sent after commit) pushes the boards.
"""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agencies import signals as agency_signals
from agencies.models import Integration, Notification, NotificationStatus
from agencies.services import integrations_cache_clear
from counter.services import payments
from dashboard import live, selectors
from dashboard.fragments import render_board
from dashboard.groups import NATION, branch_group, governorate_group


@pytest.fixture(autouse=True)
def _integrations_forgotten():
    # The integrations are cached per process; a test's rolled-back rows must not linger.
    integrations_cache_clear()
    yield
    integrations_cache_clear()


@pytest.fixture
def integrated(fixed_service):
    return Integration.objects.create(service=fixed_service, inquire_first=False)


def _pay(agent, service, citizen, n=1):
    return [
        payments.payment_post_cash(
            agent=agent,
            service=service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            tendered=10_000,
            idempotency_key=uuid.uuid4().hex,
        )
        for _ in range(n)
    ]


def _set(payment, status, **fields):
    Notification.objects.filter(payment=payment).update(status=status, **fields)


def _figures(board):
    return [(a.agency.code, a.waiting, a.unknown, a.refused) for a in board.extra["agencies"]]


def test_the_nation_board_counts_each_agencys_waiting_unknown_and_refused(
    integrated, agent_a, fixed_service, citizen, open_till
):
    waiting, unknown, refused, acknowledged = _pay(agent_a, fixed_service, citizen, n=4)
    _set(unknown, NotificationStatus.UNKNOWN, attempts=3)
    _set(refused, NotificationStatus.REFUSED)
    _set(acknowledged, NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now())
    board = selectors.nation_board()
    # Waiting: the pending one and the unknown one; the acknowledged one is resolved.
    assert _figures(board) == [("LOCAL", 2, 1, 1)]
    assert board.extra["agencies"][0].pending == 1


def test_the_oldest_waiting_notification_gives_the_age(
    integrated, agent_a, fixed_service, citizen, open_till
):
    old, new = _pay(agent_a, fixed_service, citizen, n=2)
    now = timezone.now()
    Notification.objects.filter(payment=old).update(created_at=now - timedelta(minutes=42))
    Notification.objects.filter(payment=new).update(created_at=now - timedelta(minutes=5))
    (local,) = selectors.agency_outbox(now=now)
    assert local.oldest == now - timedelta(minutes=42)
    assert local.age_minutes == 42


def test_a_refusal_of_another_day_is_not_a_failure_of_today_but_waiting_ones_stay(
    integrated, agent_a, fixed_service, citizen, open_till
):
    refused, pending = _pay(agent_a, fixed_service, citizen, n=2)
    yesterday = timezone.now() - timedelta(days=1, hours=1)
    _set(refused, NotificationStatus.REFUSED, created_at=yesterday)
    Notification.objects.filter(payment=pending).update(created_at=yesterday)
    (local,) = selectors.agency_outbox(now=timezone.now())
    assert (local.waiting, local.refused, local.age_minutes >= 24 * 60) == (1, 0, True)


def test_an_agency_with_everything_confirmed_is_not_listed(
    integrated, agent_a, fixed_service, citizen, open_till
):
    (payment,) = _pay(agent_a, fixed_service, citizen)
    _set(payment, NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now())
    assert selectors.agency_outbox(now=timezone.now()) == []


def test_a_branch_and_a_governorate_count_only_their_own_payments(
    integrated, agent_a, fixed_service, citizen, open_till, branch_a, branch_b
):
    _pay(agent_a, fixed_service, citizen, n=2)
    assert _figures(selectors.branch_board(branch_a)) == [("LOCAL", 2, 0, 0)]
    assert _figures(selectors.governorate_board(branch_a.governorate)) == [("LOCAL", 2, 0, 0)]
    assert _figures(selectors.branch_board(branch_b)) == []
    if branch_b.governorate_id != branch_a.governorate_id:
        assert _figures(selectors.governorate_board(branch_b.governorate)) == []


def test_the_figures_cost_one_query_whatever_the_notifications(
    integrated, agent_a, fixed_service, citizen, open_till, django_assert_num_queries
):
    paid = _pay(agent_a, fixed_service, citizen, n=3)
    _set(paid[0], NotificationStatus.REFUSED)
    with django_assert_num_queries(1):
        selectors.agency_outbox(now=timezone.now())
    with django_assert_num_queries(1):
        selectors.agency_outbox(now=timezone.now(), scope=None)


def test_the_board_shows_the_figures_and_a_reload_shows_the_same(
    client, settings, head_office, integrated, agent_a, fixed_service, citizen, open_till
):
    first, second = _pay(agent_a, fixed_service, citizen, n=2)
    _set(second, NotificationStatus.UNKNOWN)
    fragment = render_board(NATION, language="en")
    assert 'data-agency="LOCAL"' in fragment
    assert 'data-figure="waiting">2<' in fragment
    assert "Agencies' systems" in fragment
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(head_office)
    page = client.get(reverse("dashboard:nation")).content.decode()
    assert 'data-agency="LOCAL"' in page and 'data-figure="waiting">2<' in page
    assert '<span class="badge bad">1</span>' in page  # the unknown one


def test_the_nation_board_says_when_nothing_waits(head_office, db):
    fragment = render_board(NATION, language="en")
    assert 'id="board-agencies"' in fragment
    assert "No notification to an agency is waiting" in fragment


def test_a_change_of_the_outbox_pushes_the_boards_of_its_payments_branch(
    integrated, agent_a, fixed_service, citizen, open_till, branch_a, monkeypatch, settings
):
    (payment,) = _pay(agent_a, fixed_service, citizen)
    notification = Notification.objects.get(payment=payment)
    published = []
    monkeypatch.setattr(live, "publish", lambda *groups: published.append(groups))
    settings.DASHBOARD_PUSHES = True
    agency_signals.notification_changed.send(
        sender=Notification, notification=notification, branch_id=branch_a.pk
    )
    # Without the branch, the receiver reads it.
    agency_signals.notification_changed.send(sender=Notification, notification=notification)
    expected = (branch_group(branch_a.pk), governorate_group(branch_a.governorate_id), NATION)
    assert published == [expected, expected]
