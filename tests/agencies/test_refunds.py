"""Agency refunds: held in the news' transaction, collected at any branch with four eyes."""

# The shared fixtures are imported by name, and test arguments name them again.
# ruff: noqa: F811

from __future__ import annotations

import threading
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from agencies.models import AgencyRefund, RefundStatus
from agencies.refunds import (
    RefundNotFound,
    refund_find,
    refund_open,
    refund_payout_request,
)
from agencies.signals import payment_refused
from audit.models import AuditEntry
from core.errors import InsufficientFunds, InvalidState, NotAllowed
from counter.services import payments
from float_management import services as till
from float_management.ledger import refund_due_account
from float_management.models import Account, Decision, Request, RequestKind, Transfer
from tests.agencies.requests_world import (  # noqa: F401 (fixtures)
    agency_system,
    change,
    paid,
    pay,
    post_signed,
    request_service,
)
from tests.factories import fund_vault


def _balance(account: Account) -> int:
    account.refresh_from_db()
    return account.balance


def _open_till(agent, supervisor, counter, branch, amount: int = 100_000):
    fund_vault(branch=branch, supervisor=supervisor, witness=agent, amount=10_000_000)
    session = till.till_session_request_open(
        agent=agent, counter=counter, amount=amount, idempotency_key=uuid.uuid4().hex
    )
    till.request_decide(request=session.requests.get(), supervisor=supervisor, approve=True)
    session.refresh_from_db()
    return session


@pytest.fixture
def till_b(agent_b, supervisor_b, counter_b, branch_b):
    return _open_till(agent_b, supervisor_b, counter_b, branch_b)


@pytest.fixture
def rejected(client, paid):
    """The agency rejected the request, refundable: the refund is held."""
    body = change(paid, "rejected", reason="Documents incomplete", refundable=True)
    assert post_signed(client, body).status_code == 200
    return AgencyRefund.objects.get(payment=paid)


def _ask(agent, payment, citizen) -> Request:
    return refund_payout_request(
        agent=agent,
        payment_reference=payment.reference,
        national_id=citizen.national_id,
        idempotency_key=uuid.uuid4().hex,
    )


# --- Held ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_refund_is_held_in_refund_due_and_the_till_is_untouched(
    rejected, paid, open_till, branch_a
):
    till_cash = _balance(open_till.account)
    assert rejected.held_transfer.reverses_id == paid.transfer_id
    due = refund_due_account("agency", branch_a)
    assert _balance(due) == paid.total
    legs = {e.account_id: e.amount for e in rejected.held_transfer.entries.all()}
    assert legs[due.pk] == -paid.total
    assert open_till.account.pk not in legs  # the cash stays in the till that took it
    # Every payable and the commission given back.
    original = {e.account_id: e.amount for e in paid.transfer.entries.all() if e.amount < 0}
    assert {pk: -amount for pk, amount in original.items()} == {
        pk: amount for pk, amount in legs.items() if pk != due.pk
    }
    assert _balance(open_till.account) == till_cash
    assert AuditEntry.objects.filter(action="agencies.refund_opened").count() == 1
    call_command("ledger_verify")


@pytest.mark.django_db
def test_a_refusal_by_the_agencys_system_holds_the_refund_once(paid):
    notification = paid.agency_notifications.get()
    payment_refused.send(sender=type(notification), notification=notification, code="paid")
    payment_refused.send(sender=type(notification), notification=notification, code="paid")

    refund = AgencyRefund.objects.get(payment=paid)
    assert (refund.reason, refund.amount) == ("refused", paid.total)
    assert Transfer.objects.filter(reverses=paid.transfer).count() == 1
    call_command("ledger_verify")


@pytest.mark.django_db
def test_a_voided_payment_holds_no_refund(paid, agent_a, supervisor_a):
    request = payments.void_request(
        agent=agent_a, payment=paid, reason="wrong", idempotency_key=uuid.uuid4().hex
    )
    till.request_decide(request=request, supervisor=supervisor_a, approve=True)
    paid.refresh_from_db()

    assert refund_open(payment=paid, reason="refused") is None
    assert not AgencyRefund.objects.exists()


@pytest.mark.django_db
def test_a_payment_with_a_refund_cannot_be_voided_and_says_why(
    client, rejected, paid, agent_a, supervisor_a
):
    with pytest.raises(InvalidState, match="already given back"):
        payments.void_request(
            agent=agent_a, payment=paid, reason="wrong", idempotency_key=uuid.uuid4().hex
        )
    client.force_login(agent_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(
        reverse("counter:void", args=[paid.reference]),
        {"reason": "wrong", "idempotency_key": uuid.uuid4().hex},
        follow=True,
    )
    assert response.status_code == 200
    assert "already given back" in response.content.decode()
    assert not Request.objects.filter(kind=RequestKind.VOID).exists()


@pytest.mark.django_db
def test_a_void_waiting_when_the_refund_came_is_refused_at_approval(
    client, paid, agent_a, supervisor_a
):
    void = payments.void_request(
        agent=agent_a, payment=paid, reason="wrong", idempotency_key=uuid.uuid4().hex
    )
    post_signed(client, change(paid, "rejected", refundable=True))

    with pytest.raises(InvalidState, match="already given back"):
        till.request_decide(request=void, supervisor=supervisor_a, approve=True)
    paid.refresh_from_db()
    assert not paid.is_voided
    call_command("ledger_verify")


# --- Found --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_refund_is_found_only_by_the_reference_and_the_national_id_together(
    rejected, paid, citizen
):
    assert refund_find(payment_reference=paid.reference, national_id=citizen.national_id) == (
        rejected
    )
    arabic_digits = citizen.national_id.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert refund_find(payment_reference=paid.reference, national_id=arabic_digits) == rejected
    for reference, national_id in [
        (paid.reference, "29001010100023"),
        ("000000000000", citizen.national_id),
        (paid.reference, ""),
        ("", citizen.national_id),
    ]:
        with pytest.raises(RefundNotFound):
            refund_find(payment_reference=reference, national_id=national_id)


@pytest.mark.django_db
def test_the_desk_shows_the_one_refund_found_and_nothing_for_a_wrong_id(
    client, rejected, paid, citizen, agent_b
):
    client.force_login(agent_b)  # another branch: any branch pays it
    page = client.get(reverse("agencies:refunds"))
    assert page.status_code == 200
    assert paid.reference not in page.content.decode()

    found = client.post(
        reverse("agencies:refunds"),
        {"payment_reference": paid.reference, "national_id": citizen.national_id},
    )
    assert found.status_code == 200
    assert f'id="refund-{rejected.pk}"' in found.content.decode()

    wrong = client.post(
        reverse("agencies:refunds"),
        {"payment_reference": paid.reference, "national_id": "29001010100023"},
    )
    assert f'id="refund-{rejected.pk}"' not in wrong.content.decode()


@pytest.mark.django_db
def test_only_agents_reach_the_desk(client, supervisor_a):
    client.force_login(supervisor_a)
    assert client.get(reverse("agencies:refunds")).status_code == 403


# --- Paid out -----------------------------------------------------------------------


@pytest.mark.django_db
def test_any_branch_pays_it_out_with_its_own_supervisor(
    rejected, paid, citizen, agent_b, supervisor_a, supervisor_b, till_b, branch_a, branch_b
):
    cash_before = _balance(till_b.account)
    request = _ask(agent_b, paid, citizen)
    assert (request.kind, request.branch, request.amount) == ("refund", branch_b, paid.total)
    rejected.refresh_from_db()
    assert (rejected.status, rejected.requested_by) == ("requested", agent_b)

    with pytest.raises(NotAllowed):  # the payment's branch does not decide another's till
        till.request_decide(request=request, supervisor=supervisor_a, approve=True)
    decision = till.request_decide(request=request, supervisor=supervisor_b, approve=True)

    rejected.refresh_from_db()
    assert rejected.status == RefundStatus.PAID
    assert (rejected.paid_branch, rejected.approved_by) == (branch_b, supervisor_b)
    assert rejected.paid_transfer == decision.transfer
    assert _balance(till_b.account) == cash_before - paid.total
    assert _balance(refund_due_account("agency", branch_a)) == 0
    assert AuditEntry.objects.filter(action="agencies.refund_paid").count() == 1
    assert AuditEntry.objects.filter(action="agencies.refund_requested").count() == 1
    call_command("ledger_verify")


@pytest.mark.django_db
def test_the_agent_who_asked_cannot_approve(rejected, paid, citizen, agent_a, open_till):
    request = _ask(agent_a, paid, citizen)
    with pytest.raises(NotAllowed):
        till.request_decide(request=request, supervisor=agent_a, approve=True)
    rejected.refresh_from_db()
    assert rejected.status == "requested"


@pytest.mark.django_db
def test_it_is_asked_once_and_paid_once(rejected, paid, citizen, agent_a, open_till, supervisor_a):
    request = _ask(agent_a, paid, citizen)
    with pytest.raises(InvalidState, match="already waiting"):
        _ask(agent_a, paid, citizen)
    till.request_decide(request=request, supervisor=supervisor_a, approve=True)
    with pytest.raises(InvalidState, match="already been paid"):
        _ask(agent_a, paid, citizen)
    # Deciding the same request again returns the first decision: no second payout.
    till.request_decide(request=request, supervisor=supervisor_a, approve=True)
    assert Decision.objects.filter(request=request).count() == 1
    assert Transfer.objects.filter(kind="refund").count() == 1
    call_command("ledger_verify")


@pytest.mark.django_db
def test_the_same_form_twice_asks_once(rejected, paid, citizen, agent_a, open_till):
    key = uuid.uuid4().hex
    ask = {
        "agent": agent_a,
        "payment_reference": paid.reference,
        "national_id": citizen.national_id,
        "idempotency_key": key,
    }
    assert refund_payout_request(**ask) == refund_payout_request(**ask)
    assert Request.objects.filter(kind=RequestKind.REFUND).count() == 1


@pytest.mark.django_db
def test_a_rejected_payout_waits_for_the_citizen_again(
    rejected, paid, citizen, agent_a, open_till, supervisor_a
):
    request = _ask(agent_a, paid, citizen)
    till.request_decide(request=request, supervisor=supervisor_a, approve=False, reason="no ID")
    rejected.refresh_from_db()
    assert (rejected.status, rejected.requested_by) == ("due", None)
    assert _ask(agent_a, paid, citizen).pk != request.pk


@pytest.mark.django_db
def test_a_till_without_the_cash_refuses_with_a_clear_message(
    rejected, paid, citizen, agent_b, supervisor_b, counter_b, branch_b
):
    poor = _open_till(agent_b, supervisor_b, counter_b, branch_b, amount=1_000)  # 10.00 EGP
    request = _ask(agent_b, paid, citizen)

    with pytest.raises(InsufficientFunds, match="does not hold the 54.50 EGP"):
        till.request_decide(request=request, supervisor=supervisor_b, approve=True)
    rejected.refresh_from_db()
    assert rejected.status == "requested"
    assert not Decision.objects.filter(request=request).exists()
    assert _balance(poor.account) == 1_000


@pytest.mark.django_db
def test_a_closed_till_cannot_ask(rejected, paid, citizen, agent_b):
    with pytest.raises(InvalidState):
        _ask(agent_b, paid, citizen)


@pytest.mark.django_db
def test_the_desk_asks_and_the_approvals_page_lists_it(
    client, rejected, paid, citizen, agent_a, open_till, supervisor_a
):
    client.force_login(agent_a)
    response = client.post(
        reverse("agencies:refund_payout"),
        {
            "payment_reference": paid.reference,
            "national_id": citizen.national_id,
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    assert response.status_code == 200
    request = Request.objects.get(kind=RequestKind.REFUND)
    assert request.requested_by == agent_a

    client.force_login(supervisor_a)
    branch_page = client.get(reverse("float:branch")).content.decode()
    assert paid.reference in branch_page
    client.post(reverse("float:decide", args=[request.pk]), {"decision": "approve"})
    rejected.refresh_from_db()
    assert rejected.status == "paid"


# --- Concurrency (PostgreSQL) -----------------------------------------------------


def _together(jobs):
    barrier = threading.Barrier(len(jobs))
    results, lock = [], threading.Lock()

    def run(job):
        try:
            barrier.wait(timeout=30)
            outcome = job()
        except Exception as error:  # noqa: BLE001 (reported below)
            outcome = error
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    connection.close()
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_branches_asking_at_once_ask_once(
    client, paid, citizen, agent_a, agent_b, open_till, till_b
):
    post_signed(client, change(paid, "rejected", refundable=True))

    results = _together(
        [lambda: _ask(agent_a, paid, citizen), lambda: _ask(agent_b, paid, citizen)]
    )

    asked = [r for r in results if isinstance(r, Request)]
    refused = [r for r in results if isinstance(r, InvalidState)]
    assert (len(asked), len(refused)) == (1, 1), results
    assert Request.objects.filter(kind=RequestKind.REFUND).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_pay_once(
    client, paid, citizen, agent_a, open_till, supervisor_a, branch_a
):
    post_signed(client, change(paid, "rejected", refundable=True))
    request = _ask(agent_a, paid, citizen)
    cash_before = _balance(open_till.account)

    def approve():
        return till.request_decide(request=request, supervisor=supervisor_a, approve=True)

    results = _together([approve, approve, approve])

    assert all(isinstance(r, Decision) for r in results), results
    assert Transfer.objects.filter(kind="refund").count() == 1
    assert _balance(open_till.account) == cash_before - paid.total
    assert _balance(refund_due_account("agency", branch_a)) == 0
    call_command("ledger_verify")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_rejection_delivered_twice_at_once_holds_one_refund(client, paid):
    from django.test import Client

    body = change(paid, "rejected", refundable=True)
    results = _together(
        [
            lambda: post_signed(Client(), body).status_code,
            lambda: post_signed(Client(), body).status_code,
        ]
    )

    assert sorted(results) == [200, 200]
    assert AgencyRefund.objects.filter(payment=paid).count() == 1
    assert Transfer.objects.filter(reverses=paid.transfer).count() == 1
    call_command("ledger_verify")
