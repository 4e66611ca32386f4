"""The dashboards' figures, their query counts, their pages and the approve button."""

import uuid

import pytest
from django.urls import reverse

from counter.services import payments
from dashboard import selectors
from float_management import services
from float_management.models import Request
from tests.factories import fund_vault


def _pay(agent, service, citizen, n=1):
    for _ in range(n):
        payments.payment_post_cash(
            agent=agent,
            service=service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            tendered=10_000,
            idempotency_key=uuid.uuid4().hex,
        )


def test_the_branch_board_counts_todays_payments_per_counter(
    agent_a, fixed_service, citizen, open_till, branch_a
):
    _pay(agent_a, fixed_service, citizen, n=3)
    board = selectors.branch_board(branch_a)
    row = board.rows[0]
    assert (row.payments, row.total) == (3, 3 * 5_450)
    assert row.cash == 100_000 + 3 * 5_450
    assert row.state == "normal"
    assert (board.payments, board.total) == (3, 16_350)


def test_the_branch_board_keeps_the_payments_of_tills_already_closed(
    agent_a, fixed_service, citizen, open_till, branch_a
):
    from float_management.models import SessionStatus, TillSession

    _pay(agent_a, fixed_service, citizen, n=2)
    TillSession.objects.filter(pk=open_till.pk).update(status=SessionStatus.CLOSED)
    board = selectors.branch_board(branch_a)
    assert (board.payments, board.total) == (2, 2 * 5_450)
    assert all(row.session is None for row in board.rows)


def test_a_till_over_its_limit_is_an_alert(agent_a, fixed_service, citizen, open_till, branch_a):
    branch_a.till_cash_limit = 100_000
    branch_a.save()
    _pay(agent_a, fixed_service, citizen)
    board = selectors.branch_board(branch_a)
    assert board.rows[0].state == "over"
    assert ("over", 1) in board.alerts


def test_a_void_request_is_an_alert_and_waits_in_the_queue(
    agent_a, fixed_service, citizen, open_till, branch_a
):
    _pay(agent_a, fixed_service, citizen)
    payment = open_till.payments.get()
    payments.void_request(
        agent=agent_a, payment=payment, reason="x", idempotency_key=uuid.uuid4().hex
    )
    board = selectors.branch_board(branch_a)
    assert ("void", 1) in board.alerts
    assert [r.kind for r in board.extra["pending"]] == ["void"]


def test_the_branch_board_runs_eight_queries_whatever_the_payments(
    agent_a, fixed_service, citizen, open_till, branch_a, django_assert_num_queries
):
    _pay(agent_a, fixed_service, citizen, n=5)
    # Six for the counters, the queue and the alerts; one grouped query for the
    # integrity alerts (test_integrity_alerts.py); one for the agencies' notifications.
    with django_assert_num_queries(8):
        selectors.branch_board(branch_a)


def test_the_governorate_board_runs_six_queries(
    agent_a, fixed_service, citizen, open_till, branch_a, branch_b, django_assert_num_queries
):
    _pay(agent_a, fixed_service, citizen, n=2)
    # Four for the branches' figures; one grouped query for the integrity alerts; one for
    # the agencies' notifications (test_agency_figures.py).
    with django_assert_num_queries(6):
        board = selectors.governorate_board(branch_a.governorate)
    assert [(r["branch"].code, r["payments"], r["open"]) for r in board.rows] == [("A0001", 2, 1)]
    _pay(agent_a, fixed_service, citizen)
    with django_assert_num_queries(6):
        board = selectors.governorate_board(branch_a.governorate)
    assert [(r["branch"].code, r["payments"], r["total"]) for r in board.rows] == [
        ("A0001", 3, 3 * 5_450)
    ]


def test_the_nation_board_runs_six_queries_with_or_without_its_snapshot(
    agent_a, fixed_service, citizen, open_till, django_assert_num_queries
):
    _pay(agent_a, fixed_service, citizen, n=4)
    with django_assert_num_queries(6):
        board = selectors.nation_board()  # builds today's snapshot
    assert board.payments == 4
    assert sum(board.extra["per_minute"]) == 4
    assert board.extra["top_services"][0]["n"] == 4
    assert board.extra["sparkline"].count(",") == 60
    _pay(agent_a, fixed_service, citizen)
    with django_assert_num_queries(6):
        board = selectors.nation_board()  # the snapshot and what came after it
    assert (board.payments, board.total) == (5, 5 * 5_450)
    assert board.extra["top_services"][0]["n"] == 5


def test_a_reload_shows_the_figures_of_the_database(
    client, supervisor_a, agent_a, fixed_service, citizen, open_till
):
    _pay(agent_a, fixed_service, citizen, n=2)
    client.force_login(supervisor_a)
    html = client.get(reverse("dashboard:branch", args=["A0001"])).content.decode()
    assert 'data-figure="payments">2<' in html and "109.00" in html
    assert 'ws-connect="/ws/dashboard/branch/A0001/"' in html
    fragment = client.get(reverse("dashboard:branch", args=["A0001"]) + "?fragment=1")
    assert fragment.content.decode().startswith('<div id="board"')


def test_a_supervisor_approves_from_the_board(client, supervisor_a, agent_a, counter_a, branch_a):
    fund_vault(branch=branch_a, supervisor=supervisor_a, witness=agent_a, amount=1_000_000)
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=50_000, idempotency_key=uuid.uuid4().hex
    )
    client.force_login(supervisor_a)
    request = Request.objects.get()
    response = client.post(
        reverse("dashboard:decide", args=[request.pk]),
        {"decision": "approve"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.content.decode().startswith('<div id="board"')
    session.refresh_from_db()
    assert session.status == "open"


def test_regional_and_auditors_see_no_approve_buttons(
    client, regional_a, agent_a, counter_a, branch_a, supervisor_a
):
    services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=50_000, idempotency_key=uuid.uuid4().hex
    )
    client.force_login(regional_a)
    html = client.get(reverse("dashboard:branch", args=["A0001"])).content.decode()
    assert "data-approve" not in html
    client.force_login(supervisor_a)
    html = client.get(reverse("dashboard:branch", args=["A0001"])).content.decode()
    assert "data-approve" in html


@pytest.mark.parametrize("who", ["regional_a", "head_office", "auditor", "supervisor_b"])
def test_only_the_branch_supervisor_may_decide(
    client, personas, who, agent_a, counter_a, supervisor_b
):
    services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=50_000, idempotency_key=uuid.uuid4().hex
    )
    client.force_login({**personas, "supervisor_b": supervisor_b}[who])
    response = client.post(
        reverse("dashboard:decide", args=[Request.objects.get().pk]), {"decision": "approve"}
    )
    assert response.status_code in (403, 404)
    assert not Request.objects.filter(decision__isnull=False).exists()


def test_every_board_shows_the_methods_side_by_side(
    client, agent_a, supervisor_a, head_office, fixed_service, citizen, open_till, branch_a
):
    from tests.factories import wallet_qr
    from wallet.services import money_arrived

    _pay(agent_a, fixed_service, citizen)  # cash
    payments.payment_post(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        method="bankcard",
        tender={"approval_code": "AB12CD", "card_last4": "4242"},
        idempotency_key=uuid.uuid4().hex,
    )
    qr = wallet_qr(agent_a, fixed_service, citizen)
    money_arrived(
        txn_id="WT1", reference=qr.reference, amount=qr.total, paid_at=qr.created_at, via="x"
    )
    expected = [("cash", 1, 5_450), ("card", 0, 0), ("bankcard", 1, 5_450), ("wallet", 1, 5_450)]

    for board in (
        selectors.branch_board(branch_a),
        selectors.governorate_board(branch_a.governorate),
        selectors.nation_board(),
    ):
        assert [(m["method"].key, m["n"], m["total"]) for m in board.extra["methods"]] == expected
        assert board.payments == 3

    client.force_login(supervisor_a)
    page = client.get(reverse("dashboard:branch", args=[branch_a.code])).content.decode()
    assert all(f'data-method="{key}"' in page for key, _n, _total in expected)
