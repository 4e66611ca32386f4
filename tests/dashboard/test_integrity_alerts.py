"""Integrity alerts: people over a threshold today, on their branch and governorate boards."""

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agents.models import Role
from audit import log as audit_log
from core.clock import local_today
from counter.services import payments
from dashboard import live, selectors
from dashboard.consumers import _group_for
from dashboard.fragments import render_board
from float_management.models import Account, AccountKind, SessionStatus, TillSession
from tests.factories import person


def _audited(user, branch, action: str, n: int) -> None:
    """`n` entries of `action` by `user` at `branch`, as the services write them."""
    for i in range(n):
        with transaction.atomic():
            audit_log.append(
                stream=audit_log.user_stream(user.pk),
                action=action,
                actor=user,
                object_type="card",
                object_id=i,
                branch=branch,
            )


def _pay(agent, service, citizen):
    return payments.payment_post_cash(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )


def _voids(agent, service, citizen, n: int) -> None:
    for _ in range(n):
        payment = _pay(agent, service, citizen)
        payments.void_request(
            agent=agent, payment=payment, reason="wrong service", idempotency_key=uuid.uuid4().hex
        )


def _closed_with_variance(agent, counter, days_ago: list[int], variance: int = -500) -> None:
    """Tills of `agent` closed on each of `days_ago` (days before now) with `variance`."""
    for days in days_ago:
        at = timezone.now() - timedelta(days=days)
        TillSession.objects.create(
            counter=counter,
            branch=counter.branch,
            agent=agent,
            account=Account.objects.create(
                kind=AccountKind.TILL,
                key=f"till:test-{uuid.uuid4().hex[:12]}",
                branch=counter.branch,
            ),
            status=SessionStatus.CLOSED,
            requested_at=at,
            opened_at=at,
            closed_at=at,
            counted=10_000 + variance,
            expected=10_000,
            variance=variance,
        )


def _flagged(board) -> set[tuple[str, str, int]]:
    return {(a.kind, a.username, a.count) for a in board.extra["integrity"]}


AUDITED = [
    ("card.replaced", "agent_a", "INTEGRITY_ALERT_CARD_REPLACEMENTS"),
    ("card.unlocked", "supervisor_a", "INTEGRITY_ALERT_UNLOCKS"),
    ("citizen.read", "agent_a", "INTEGRITY_ALERT_CITIZEN_READS"),
]


@pytest.mark.parametrize(("action", "who", "setting"), AUDITED)
def test_a_person_over_an_audited_threshold_is_flagged_on_their_boards_only(
    personas, branch_a, branch_b, action, who, setting
):
    user = personas[who]
    threshold = getattr(django_settings, setting)
    _audited(user, branch_a, action, threshold)
    _audited(personas["agent_b"], branch_b, action, threshold - 1)

    expected = {(action, who, threshold)}
    assert _flagged(selectors.branch_board(branch_a)) == expected
    assert _flagged(selectors.governorate_board(branch_a.governorate)) == expected
    assert _flagged(selectors.branch_board(branch_b)) == set()
    assert _flagged(selectors.governorate_board(branch_b.governorate)) == set()


@pytest.mark.parametrize(("action", "who", "setting"), AUDITED)
def test_under_the_threshold_nothing_is_flagged(personas, branch_a, action, who, setting):
    _audited(personas[who], branch_a, action, getattr(django_settings, setting) - 1)
    assert _flagged(selectors.branch_board(branch_a)) == set()
    assert _flagged(selectors.governorate_board(branch_a.governorate)) == set()


def test_thresholds_are_settings(settings, agent_a, branch_a):
    settings.INTEGRITY_ALERT_CARD_REPLACEMENTS = 5
    _audited(agent_a, branch_a, "card.replaced", 4)
    assert _flagged(selectors.branch_board(branch_a)) == set()
    _audited(agent_a, branch_a, "card.replaced", 1)
    assert _flagged(selectors.branch_board(branch_a)) == {("card.replaced", "agent_a", 5)}


def test_entries_of_an_earlier_day_do_not_count(agent_a, branch_a, settings):
    _audited(agent_a, branch_a, "card.replaced", settings.INTEGRITY_ALERT_CARD_REPLACEMENTS)
    tomorrow = timezone.now() + timedelta(days=1)
    assert _flagged(selectors.branch_board(branch_a)) != set()
    assert _flagged(selectors.branch_board(branch_a, now=tomorrow)) == set()
    assert _flagged(selectors.governorate_board(branch_a.governorate, now=tomorrow)) == set()


def test_an_agent_who_asks_for_many_voids_is_flagged(
    agent_a, fixed_service, citizen, open_till, branch_a, branch_b, settings
):
    _voids(agent_a, fixed_service, citizen, settings.INTEGRITY_ALERT_VOIDS - 1)
    assert _flagged(selectors.branch_board(branch_a)) == set()
    _voids(agent_a, fixed_service, citizen, 1)
    expected = {("void", "agent_a", settings.INTEGRITY_ALERT_VOIDS)}
    assert _flagged(selectors.branch_board(branch_a)) == expected
    assert _flagged(selectors.governorate_board(branch_a.governorate)) == expected
    assert _flagged(selectors.branch_board(branch_b)) == set()


def test_repeated_close_variances_are_flagged_on_distinct_days_of_the_week(
    agent_a, counter_a, branch_a, branch_b, settings
):
    settings.INTEGRITY_ALERT_VARIANCE_DAYS = 3
    # Two closes the same day, one a week and more ago: two days within the last seven.
    _closed_with_variance(agent_a, counter_a, [0, 0, 2, 8])
    _closed_with_variance(agent_a, counter_a, [3], variance=0)
    assert _flagged(selectors.branch_board(branch_a)) == set()
    _closed_with_variance(agent_a, counter_a, [6], variance=700)
    expected = {("variance_days", "agent_a", 3)}
    assert _flagged(selectors.branch_board(branch_a)) == expected
    assert _flagged(selectors.governorate_board(branch_a.governorate)) == expected
    assert _flagged(selectors.branch_board(branch_b)) == set()


def test_the_link_opens_the_audit_entries_behind_the_alert(
    client, auditor, agent_a, agent_b, branch_a, branch_b, settings
):
    threshold = settings.INTEGRITY_ALERT_CARD_REPLACEMENTS
    _audited(agent_a, branch_a, "card.replaced", threshold)
    _audited(agent_a, branch_a, "card.unlocked", 1)  # same person, another action
    _audited(agent_b, branch_b, "card.replaced", 1)  # another person
    (alert,) = selectors.branch_board(branch_a).extra["integrity"]
    today = local_today().isoformat()
    assert parse_qs(alert.audit_query) == {
        "actor": ["agent_a"],
        "action": ["card.replaced"],
        "branch": ["A0001"],
        "since": [today],
        "until": [today],
    }

    client.force_login(auditor)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("dashboard:branch", args=["A0001"]))
    href = f"{reverse('audit:list')}?{alert.audit_query}"
    assert f'href="{href.replace("&", "&amp;")}"' in page.content.decode()
    assert "Card replacements today: 2 (alert at 2)" in page.content.decode()

    url = urlsplit(href)
    listed = client.get(url.path, parse_qs(url.query))
    assert listed.status_code == 200
    entries = listed.context["entries"]
    assert len(entries) == threshold
    assert {(e.action, e.actor_username, e.branch_id) for e in entries} == {
        ("card.replaced", "agent_a", branch_a.pk)
    }


def test_supervisors_see_the_count_without_the_link_they_may_not_open(
    client, supervisor_a, regional_a, agent_a, branch_a, settings
):
    _audited(agent_a, branch_a, "card.replaced", settings.INTEGRITY_ALERT_CARD_REPLACEMENTS)
    for watcher, url in (
        (supervisor_a, reverse("dashboard:branch", args=["A0001"])),
        (regional_a, reverse("dashboard:governorate", args=[branch_a.governorate.code])),
    ):
        client.force_login(watcher)
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
        html = client.get(url).content.decode()
        assert 'data-integrity="card.replaced" data-user="agent_a"' in html
        assert "Card replacements today: 2 (alert at 2)" in html
        assert "data-audit-link" not in html
        assert client.get(reverse("audit:list")).status_code == 403


def test_pushed_boards_carry_the_alerts_and_the_link_only_for_auditors(agent_a, branch_a, settings):
    _audited(agent_a, branch_a, "card.unlocked", settings.INTEGRITY_ALERT_UNLOCKS)
    group = f"branch.{branch_a.pk}"
    viewer = render_board(group, language="en")
    approver = render_board(group, language="en", can_approve=True)
    auditor = render_board(group, language="en", can_audit=True)
    governorate = render_board(
        f"governorate.{branch_a.governorate_id}", language="en", can_audit=True
    )
    for html in (viewer, approver, auditor, governorate):
        assert "Card unlocks today: 2 (alert at 2)" in html
    assert "data-audit-link" not in viewer + approver
    assert "data-audit-link" in auditor and "data-audit-link" in governorate
    assert "Branch A" in governorate


def test_head_office_and_auditors_watch_the_variant_with_links(
    head_office, auditor, supervisor_a, regional_a, branch_a
):
    branch = {"kind": "branch", "ident": "A0001"}
    governorate = {"kind": "governorate", "ident": branch_a.governorate.code}
    assert _group_for(None, auditor, branch, "ar") == f"branch.{branch_a.pk}.ar.auditor"
    assert _group_for(None, head_office, governorate, "en") == (
        f"governorate.{branch_a.governorate_id}.en.auditor"
    )
    assert _group_for(None, auditor, {"kind": "nation"}, "ar") == "nation.ar.viewer"
    assert _group_for(None, supervisor_a, branch, "ar") == f"branch.{branch_a.pk}.ar.approver"
    assert _group_for(None, regional_a, governorate, "ar") == (
        f"governorate.{branch_a.governorate_id}.ar.viewer"
    )


def test_an_audited_unlock_pushes_its_branch_and_governorate_after_commit(
    supervisor_a, branch_a, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DASHBOARD_PUSHES = True
    published = []
    monkeypatch.setattr(live, "publish", lambda *groups: published.append(groups))
    with django_capture_on_commit_callbacks(execute=True):
        _audited(supervisor_a, branch_a, "card.unlocked", 1)
        _audited(supervisor_a, branch_a, "auth.login", 1)  # not an integrity action
        assert published == []  # nothing before the commit
    assert published == [(f"branch.{branch_a.pk}", f"governorate.{branch_a.governorate_id}")]


def test_the_alerts_cost_the_boards_one_query_whatever_the_people_flagged(
    personas, branch_a, django_assert_num_queries, settings
):
    for who in ("agent_a", "supervisor_a"):
        _audited(personas[who], branch_a, "card.replaced", 2)
        _audited(personas[who], branch_a, "card.unlocked", 2)
    with django_assert_num_queries(8):  # the board's six, the alerts' one, the agencies' one
        board = selectors.branch_board(branch_a)
    assert len(board.extra["integrity"]) == 4
    with django_assert_num_queries(6):  # the board's four, the alerts' one, the agencies' one
        board = selectors.governorate_board(branch_a.governorate)
    assert len(board.extra["integrity"]) == 4


def test_the_governorate_board_shows_the_worst_few(branch_a, monkeypatch):
    monkeypatch.setattr(selectors, "GOVERNORATE_INTEGRITY_TOP", 2)
    for i, n in enumerate([2, 5, 3]):
        _audited(person(f"agent_{i}", Role.AGENT, branch=branch_a), branch_a, "card.replaced", n)
    board = selectors.governorate_board(branch_a.governorate)
    assert [(a.username, a.count) for a in board.extra["integrity"]] == [
        ("agent_1", 5),
        ("agent_2", 3),
    ]
    assert len(selectors.branch_board(branch_a).extra["integrity"]) == 3
