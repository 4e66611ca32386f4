"""The agency simulator, a process of its own, pushes signed status webhooks to a live app.

The payment is told to the simulator through the adapter (what the outbox worker
does), then the simulator's clerk changes the request's status; each test waits for
a state (the request's status, the webhook answered), never for a time.
"""

# The shared fixtures are imported by name, and test arguments name them again.
# ruff: noqa: F811

from __future__ import annotations

import time

import pytest

from agencies.adapters import NotifyPayment, adapter_for
from agencies.models import AgencyRefund, ServiceRequest, StatusChange
from counter.models import SmsMessage
from float_management.verify import ledger_verify
from simulators.testing import start
from tests.agencies.requests_world import (  # noqa: F401 (fixtures)
    AGENCY,
    SECRET,
    paid,
    request_service,
)

DEADLINE = 20  # seconds: a state the test waits for, on a slow machine
LICENCE = "4123457"  # an account the simulator knows (its bills follow from the digits)


@pytest.fixture
def agency_system(settings, live_server, tmp_path):
    with start(
        "agency",
        agency=AGENCY,
        secret=SECRET,
        callback_url=f"{live_server.url}/agencies/webhook/{AGENCY}/status/",
        callback_backoff=0.2,
        state=str(tmp_path / "agency.json"),
    ) as sim:
        settings.AGENCY_SYSTEMS = {AGENCY: {"url": sim.url, "secret": SECRET, "timeout": 5.0}}
        yield sim


def _told(payment) -> None:
    """The agency holds the payment (the outbox worker's delivery, done here by hand)."""
    adapter = adapter_for(AGENCY)
    presentment = adapter.inquire(payment.service.code, LICENCE)
    adapter.notify_payment(
        NotifyPayment(
            payment_reference=payment.reference,
            service_code=payment.service.code,
            reference=LICENCE,
            bill_ids=tuple(bill.bill_id for bill in presentment.bills),
            amount=presentment.total,
            paid_at=payment.created_at,
        )
    )


def _until(condition, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached in {DEADLINE} s: {what}")


def _answered(sim, change_id, count=1):
    def done():
        hooks = sim.get("/v1/webhooks").json()["webhooks"]
        answered = [h for h in hooks if h["change_id"] == change_id and h.get("status")]
        return answered if len(answered) >= count else None

    return _until(done, f"{count} webhook(s) of {change_id} answered")


def _change(sim, payment, body):
    answer = sim.post(f"/v1/requests/{payment.reference}/status", body)
    assert answer.status == 200, answer.text
    return answer.json()


@pytest.mark.django_db(transaction=True)
def test_the_agencys_changes_reach_the_request_and_the_citizen(agency_system, paid, citizen):
    sim = agency_system
    _told(paid)

    review = _change(sim, paid, {"status": "in_review"})
    _until(lambda: ServiceRequest.objects.get(payment=paid).status == "in_review", "in review")
    stored = StatusChange.objects.get(change_id=review["change_id"])
    assert stored.changed_by == review["by"]

    # Delivered twice, each signed anew: stored once.
    ready = _change(sim, paid, {"status": "ready", "fault": {"duplicate_webhook": True}})
    hooks = _answered(sim, ready["change_id"], count=2)
    assert sorted(h["status"] for h in hooks) == [200, 200]
    assert StatusChange.objects.filter(change_id=ready["change_id"]).count() == 1
    assert ServiceRequest.objects.get(payment=paid).status == "ready"
    assert [sms.to for sms in SmsMessage.objects.all()] == [citizen.mobile] * 2


@pytest.mark.django_db(transaction=True)
def test_a_badly_signed_webhook_is_refused_and_a_refundable_rejection_holds_the_refund(
    agency_system, paid
):
    sim = agency_system
    _told(paid)

    forged = _change(sim, paid, {"status": "ready", "fault": {"bad_signature": True}})
    assert [h["status"] for h in _answered(sim, forged["change_id"])] == [401]
    assert ServiceRequest.objects.get(payment=paid).status == "submitted"

    rejected = _change(sim, paid, {"status": "rejected", "reason": "late", "refundable": True})
    _answered(sim, rejected["change_id"])
    refund = AgencyRefund.objects.get(payment=paid)
    assert (refund.status, refund.amount) == ("due", paid.total)
    assert ledger_verify().problems == []
