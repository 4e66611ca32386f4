"""The agent's till screens and the supervisor's branch cash screen, through HTTP."""

import uuid

import pytest
from django.urls import reverse

from float_management import services
from float_management.models import Decision, Request, SessionStatus, TillSession, VaultMovement
from tests.factories import CounterFactory, fund_vault


def _key():
    return uuid.uuid4().hex


@pytest.fixture
def stocked_vault(branch_a, supervisor_a, agent_a):
    fund_vault(branch=branch_a, supervisor=supervisor_a, witness=agent_a, amount=10_000_000)


@pytest.fixture
def open_session(stocked_vault, agent_a, supervisor_a, counter_a):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=_key()
    )
    services.request_decide(request=session.requests.get(), supervisor=supervisor_a, approve=True)
    session.refresh_from_db()
    return session


def test_an_agent_requests_an_opening_float_in_arabic_digits(client, agent_a, counter_a):
    client.force_login(agent_a)
    key = _key()
    data = {"counter": counter_a.pk, "amount": "١٥٠٠٫٥٠", "idempotency_key": key}
    response = client.post(reverse("float:open"), data)
    assert response.status_code == 302
    session = TillSession.objects.get(agent=agent_a)
    assert session.status == SessionStatus.REQUESTED
    assert session.requests.get().amount == 150_050


def test_a_double_click_on_open_makes_one_request(client, agent_a, counter_a):
    client.force_login(agent_a)
    data = {"counter": counter_a.pk, "amount": "500", "idempotency_key": _key()}
    client.post(reverse("float:open"), data)
    client.post(reverse("float:open"), data)
    assert Request.objects.count() == 1


@pytest.mark.parametrize("amount", ["0", "-5", "12.345", "abc", ""])
def test_bad_amounts_are_refused_next_to_the_field_and_nothing_is_saved(
    client, agent_a, counter_a, amount
):
    client.force_login(agent_a)
    data = {"counter": counter_a.pk, "amount": amount, "idempotency_key": _key()}
    response = client.post(reverse("float:open"), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.context["open_form"].errors["amount"]
    assert f'value="{amount}"' in response.content.decode() or amount == ""
    assert not TillSession.objects.exists()


def test_the_session_page_does_not_show_the_expected_cash(client, agent_a, open_session):
    client.force_login(agent_a)
    client.post(reverse("float:drop"), {"drop-amount": "250", "drop-idempotency_key": _key()})
    html = client.get(reverse("float:session")).content.decode()
    open_session.account.refresh_from_db()
    assert open_session.account.balance == 75_000
    assert "750.00" not in html  # what the till should hold stays hidden until close


def test_a_cash_drop_moves_cash_to_the_vault(client, agent_a, open_session):
    client.force_login(agent_a)
    response = client.post(
        reverse("float:drop"), {"drop-amount": "250", "drop-idempotency_key": _key()}
    )
    assert response.status_code == 302
    open_session.account.refresh_from_db()
    assert open_session.account.balance == 75_000


def test_a_drop_larger_than_the_till_is_refused_with_a_message(client, agent_a, open_session):
    client.force_login(agent_a)
    response = client.post(
        reverse("float:drop"), {"drop-amount": "5000", "drop-idempotency_key": _key()}
    )
    assert response.status_code == 200
    assert response.context["drop_form"].non_field_errors()
    open_session.account.refresh_from_db()
    assert open_session.account.balance == 100_000


def test_the_blind_close_then_the_supervisors_sign_off(
    client, agent_a, supervisor_a, open_session, denominations
):
    client.force_login(agent_a)
    page = client.get(reverse("float:close"))
    assert page.status_code == 200
    assert "1,000.00" not in page.content.decode()
    fifty = denominations[("note", 5000)]
    response = client.post(
        reverse("float:close"), {f"d{fifty.pk}": "١٩", "idempotency_key": _key()}
    )
    assert response.status_code == 302
    close = Request.objects.get(kind="close")
    client.force_login(supervisor_a)
    response = client.post(reverse("float:decide", args=[close.pk]), {"decision": "approve"})
    assert response.status_code == 302
    open_session.refresh_from_db()
    assert open_session.status == SessionStatus.CLOSED
    assert (open_session.counted, open_session.expected, open_session.variance) == (
        95_000,
        100_000,
        -5_000,
    )


def test_a_supervisor_approves_from_the_queue_with_htmx(
    client, agent_a, supervisor_a, stocked_vault, counter_a
):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=_key()
    )
    client.force_login(supervisor_a)
    page = client.get(reverse("float:branch"))
    assert "1,000.00" in page.content.decode()  # the supervisor sees the requested amount
    pending = session.requests.get()
    response = client.post(
        reverse("float:decide", args=[pending.pk]),
        {"decision": "approve"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert 'id="branch-panel"' in response.content.decode()
    assert Decision.objects.get(request=pending).approved
    session.refresh_from_db()
    assert session.status == SessionStatus.OPEN


def test_a_rejection_needs_a_reason(client, agent_a, supervisor_a, stocked_vault, counter_a):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=_key()
    )
    client.force_login(supervisor_a)
    client.post(reverse("float:decide", args=[session.requests.get().pk]), {"decision": "reject"})
    assert not Decision.objects.exists()
    client.post(
        reverse("float:decide", args=[session.requests.get().pk]),
        {"decision": "reject", "reason": "الخزينة غير جاهزة"},
    )
    session.refresh_from_db()
    assert session.status == SessionStatus.REJECTED


def test_a_supervisor_of_another_branch_gets_404(
    client, agent_a, supervisor_b, stocked_vault, counter_a
):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=_key()
    )
    client.force_login(supervisor_b)
    response = client.post(
        reverse("float:decide", args=[session.requests.get().pk]), {"decision": "approve"}
    )
    assert response.status_code == 404
    assert not Decision.objects.exists()


def test_an_agent_cannot_approve(client, agent_a, stocked_vault, counter_a):
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_a, amount=100_000, idempotency_key=_key()
    )
    client.force_login(agent_a)
    response = client.post(
        reverse("float:decide", args=[session.requests.get().pk]), {"decision": "approve"}
    )
    assert response.status_code == 403
    assert not Decision.objects.exists()


def test_a_vault_movement_needs_a_witness_other_than_the_supervisor(
    client, supervisor_a, agent_a, branch_a
):
    from float_management.ledger import vault_account

    client.force_login(supervisor_a)
    response = client.post(
        reverse("float:vault"),
        {
            "direction": "in",
            "amount": "1000",
            "witness": supervisor_a.pk,
            "idempotency_key": _key(),
        },
    )
    assert response.status_code == 200
    assert response.context["vault_form"].errors["witness"]
    response = client.post(
        reverse("float:vault"),
        {"direction": "in", "amount": "1000", "witness": agent_a.pk, "idempotency_key": _key()},
    )
    assert response.status_code == 302
    assert vault_account(branch_a).balance == 0  # not before the witness confirms


def test_the_witness_confirms_a_vault_movement_with_their_own_login(
    client, supervisor_a, agent_a, branch_a
):
    from float_management.ledger import vault_account

    client.force_login(supervisor_a)
    client.post(
        reverse("float:vault"),
        {"direction": "in", "amount": "1000", "witness": agent_a.pk, "idempotency_key": _key()},
    )
    movement = VaultMovement.objects.get()
    response = client.post(
        reverse("float:vault_confirm", args=[movement.pk]), {"decision": "confirm"}
    )
    assert response.status_code == 302
    assert vault_account(branch_a).balance == 0  # the supervisor cannot confirm for the witness

    client.force_login(agent_a)
    page = client.get(reverse("float:session"))
    assert [m.pk for m in page.context["vault_to_confirm"]] == [movement.pk]
    response = client.post(
        reverse("float:vault_confirm", args=[movement.pk]), {"decision": "confirm"}
    )

    assert response.status_code == 302
    assert vault_account(branch_a).balance == 100_000
    movement.refresh_from_db()
    assert movement.confirmed_at is not None and movement.transfer.created_by == agent_a


def test_another_branchs_vault_movement_is_not_found(client, supervisor_a, agent_a, agent_b):
    movement = services.vault_move(
        branch=agent_a.profile.branch,
        direction="in",
        amount=1_000,
        handled_by=supervisor_a,
        witnessed_by=agent_a,
        idempotency_key=_key(),
    )
    client.force_login(agent_b)
    response = client.post(
        reverse("float:vault_confirm", args=[movement.pk]), {"decision": "confirm"}
    )
    assert response.status_code == 404


def test_state_changing_endpoints_refuse_a_post_without_csrf(agent_a, counter_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_a)
    response = client.post(
        reverse("float:open"), {"counter": counter_a.pk, "amount": "5", "idempotency_key": _key()}
    )
    assert response.status_code == 403
    assert not TillSession.objects.exists()


def test_a_top_up_request_waits_in_the_supervisors_queue(
    client, agent_a, supervisor_a, open_session
):
    client.force_login(agent_a)
    response = client.post(
        reverse("float:top_up"), {"top_up-amount": "300", "top_up-idempotency_key": _key()}
    )
    assert response.status_code == 302
    top_up = Request.objects.get(kind="top_up_float")
    assert top_up.amount == 30_000
    client.force_login(supervisor_a)
    assert top_up in client.get(reverse("float:branch")).context["pending"]


def _preselected(client):
    """The counter the open-till form starts at (None: "---------")."""
    response = client.get(reverse("float:session"))
    assert response.status_code == 200
    value = response.context["open_form"]["counter"].value()
    page = response.content.decode()
    if value is None:
        options = page.split('name="counter"', 1)[1].split("</select>", 1)[0]
        assert options.count(" selected>") == 1
        assert '<option value="" selected>' in options
    else:
        assert f'<option value="{value}" selected>' in page
    return value


def test_the_open_form_starts_at_the_branchs_only_free_counter(client, agent_a, counter_a):
    client.force_login(agent_a)
    assert _preselected(client) == counter_a.pk


def test_the_open_form_starts_at_the_counter_the_agent_last_worked_at(
    client, agent_a, supervisor_a, branch_a, counter_a
):
    counter_3 = CounterFactory(branch=branch_a, number=3)
    CounterFactory(branch=branch_a, number=2)
    session = services.till_session_request_open(
        agent=agent_a, counter=counter_3, amount=50_000, idempotency_key=_key()
    )
    services.request_decide(
        request=session.requests.get(), supervisor=supervisor_a, approve=False, reason="no float"
    )
    client.force_login(agent_a)
    assert _preselected(client) == counter_3.pk


def test_the_open_form_leaves_the_choice_among_several_free_counters_none_the_agents(
    client, agent_a, branch_a, counter_a
):
    CounterFactory(branch=branch_a, number=2)
    client.force_login(agent_a)
    assert _preselected(client) is None
