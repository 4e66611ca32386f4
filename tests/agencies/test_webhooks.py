"""The agency's status webhook: signed, replay-refused, idempotent, in order, never a 500."""

# The shared fixtures are imported by name, and test arguments name them again.
# ruff: noqa: F811

from __future__ import annotations

import datetime
import json
import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from agencies.models import AgencyRefund, ServiceRequest, StatusChange, WebhookSeen
from audit.models import AuditEntry
from counter.models import SmsMessage
from tests.agencies.requests_world import (  # noqa: F401 (fixtures)
    AGENCY,
    agency_system,
    change,
    paid,
    post_signed,
    request_service,
    sign,
)

pytestmark = pytest.mark.django_db


def _at(minutes: int) -> str:
    base = datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.UTC)
    return (base + datetime.timedelta(minutes=minutes)).isoformat()


def _request(payment) -> ServiceRequest:
    return ServiceRequest.objects.get(payment=payment)


def test_a_change_is_stored_applied_and_texted_to_the_bound_mobile(
    client, paid, citizen, django_capture_on_commit_callbacks
):
    body = change(paid, "in_review", by="clerk.amal", changed_at=_at(5))
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, body)

    assert response.status_code == 200
    assert response.json() == {
        "change_id": body["change_id"],
        "outcome": "applied",
        "status": "in_review",
    }
    request = _request(paid)
    assert request.status == "in_review"
    stored = request.changes.get(change_id=body["change_id"])
    assert stored.changed_by == "clerk.amal"
    assert stored.changed_at.isoformat() == _at(5)
    assert [(sms.to, sms.body) for sms in SmsMessage.objects.all()] == [
        (citizen.mobile, f"البريد: طلبكم {paid.reference} قيد المراجعة لدى الجهة.")
    ]
    assert AuditEntry.objects.filter(action="agencies.request_status").count() == 1


def test_the_same_change_delivered_twice_is_stored_and_texted_once(
    client, paid, django_capture_on_commit_callbacks
):
    body = change(paid, "ready")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_signed(client, body)
        # The simulator's duplicate_webhook: the same change_id, signed anew.
        again = post_signed(client, {**body, "delivery": 2})

    assert first.json()["outcome"] == "applied"
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert StatusChange.objects.filter(change_id=body["change_id"]).count() == 1
    assert SmsMessage.objects.count() == 1


def test_the_very_same_signed_request_again_is_a_replay_refused_whatever_the_case(client, paid):
    raw = json.dumps(change(paid, "in_review")).encode()
    headers = sign(raw)
    assert post_signed(client, raw, headers=headers).status_code == 200

    assert post_signed(client, raw, headers=headers).status_code == 403
    shouted = {**headers, "HTTP_X_AGENCY_SIGNATURE": headers["HTTP_X_AGENCY_SIGNATURE"].upper()}
    assert post_signed(client, raw, headers=shouted).status_code == 403
    assert WebhookSeen.objects.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_AGENCY_TIMESTAMP": "1"},
        {"HTTP_X_AGENCY_SIGNATURE": "00" * 32},
        {"HTTP_X_AGENCY_TIMESTAMP": "soon", "HTTP_X_AGENCY_SIGNATURE": "00" * 32},
        {"HTTP_X_AGENCY_TIMESTAMP": "١٧٠٠٠٠٠٠٠٠", "HTTP_X_AGENCY_SIGNATURE": "00" * 32},
        {"HTTP_X_AGENCY_TIMESTAMP": "9" * 400, "HTTP_X_AGENCY_SIGNATURE": "00" * 32},
    ],
)
def test_a_missing_or_garbled_signature_is_401_and_writes_nothing(client, paid, headers):
    response = post_signed(client, change(paid, "ready"), headers=headers)

    assert response.status_code == 401
    assert _request(paid).status == "submitted"
    assert StatusChange.objects.count() == 1  # the opening one only


def test_a_wrong_key_or_a_stale_or_future_timestamp_is_401(client, paid):
    body = change(paid, "ready")
    assert post_signed(client, body, secret="not-the-secret").status_code == 401
    assert post_signed(client, body, timestamp=int(time.time()) - 360).status_code == 401
    assert post_signed(client, body, timestamp=int(time.time()) + 360).status_code == 401
    assert _request(paid).status == "submitted"


def test_an_agency_without_a_secret_is_refused(client, paid, settings):
    settings.AGENCY_SYSTEMS = {AGENCY: {"url": "http://127.0.0.1:9"}}
    assert post_signed(client, change(paid, "ready"), secret="").status_code == 401


def test_an_unknown_agency_or_payment_is_404(client, paid):
    assert post_signed(client, change(paid, "ready"), agency="NOPE").status_code == 404
    unknown = {**change(paid, "ready"), "payment_reference": "000000000000"}
    assert post_signed(client, unknown).status_code == 404
    assert _request(paid).status == "submitted"


def test_get_is_refused(client, paid):
    assert client.get(reverse("agencies:status_webhook", args=[AGENCY])).status_code == 405


def test_an_illegal_transition_is_409_and_changes_nothing(
    client, paid, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, change(paid, "ready", changed_at=_at(5)))
        backwards = change(paid, "in_review", changed_at=_at(9))
        response = post_signed(client, backwards)

    assert response.status_code == 409
    assert _request(paid).status == "ready"
    assert not StatusChange.objects.filter(change_id=backwards["change_id"]).exists()
    assert SmsMessage.objects.count() == 1
    # Refused, not seen: the agency may send it again (and be refused again, not replayed).
    assert post_signed(client, backwards).status_code == 409


def test_an_older_change_arriving_late_is_stored_but_moves_nothing_back(
    client, paid, django_capture_on_commit_callbacks
):
    newer = change(paid, "ready", changed_at=_at(10))
    older = change(paid, "in_review", changed_at=_at(5))
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(client, newer).json()["outcome"] == "applied"
        late = post_signed(client, older)

    assert late.status_code == 200
    assert late.json() == {"change_id": older["change_id"], "outcome": "stored", "status": "ready"}
    request = _request(paid)
    assert request.status == "ready"
    assert [c.status for c in request.changes.order_by("pk")] == [
        "submitted",
        "ready",
        "in_review",
    ]
    assert SmsMessage.objects.count() == 1  # the citizen had the newer news already


def test_an_older_change_the_present_status_cannot_follow_is_409(client, paid):
    post_signed(client, change(paid, "ready", changed_at=_at(10)))
    response = post_signed(client, change(paid, "rejected", changed_at=_at(5)))

    assert response.status_code == 409
    assert _request(paid).status == "ready"
    assert not AgencyRefund.objects.exists()


def test_a_refundable_rejection_opens_the_refund_in_the_same_request(client, paid, open_till):
    till_before = open_till.account.balance
    body = change(paid, "rejected", reason="Documents incomplete", refundable=True)
    assert post_signed(client, body).status_code == 200

    refund = AgencyRefund.objects.get(payment=paid)
    assert (refund.amount, refund.reason, refund.status) == (paid.total, "rejected", "due")
    open_till.account.refresh_from_db()
    assert open_till.account.balance == till_before  # the till that took the cash: untouched
    request = _request(paid)
    assert (request.status, request.reason, request.refundable) == (
        "rejected",
        "Documents incomplete",
        True,
    )
    call_command("ledger_verify")


def test_a_rejection_not_refundable_opens_no_refund(client, paid):
    assert post_signed(client, change(paid, "rejected", reason="Fraud")).status_code == 200
    assert not AgencyRefund.objects.exists()


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


HOSTILE = [
    b"",
    b"not json",
    b"\xff\xfe\x00",
    b"null",
    b"[]",
    b'"a string"',
    b"1e999999",
    _deep(100_000),
    b'{"status": "ready"}',
]


def _hostile_bodies(payment) -> list[bytes]:
    good = change(payment, "ready")
    bad_fields = [
        {"status": "approved"},
        {"status": ["ready"]},
        {"status": None},
        {"refundable": "yes"},
        {"refundable": 1},
        {"changed_at": "yesterday"},
        {"changed_at": "2030-01-01T09:00:00"},  # no time zone
        {"changed_at": 1700000000},
        {"changed_at": "2999-01-01T00:00:00+00:00"},  # ahead: would freeze the request
        {"changed_at": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
        {"changed_at": "9999-12-31T23:59:59-14:00"},
        {"changed_at": "9" * 5000},
        {"change_id": ""},
        {"change_id": "x" * 65},
        {"change_id": {"$gt": ""}},
        {"change_id": "CH\x00null"},
        {"by": ""},
        {"by": 42},
        {"by": "\ud800"},
        {"reason": 7},
        {"reason": "a\x00b"},
        {"payment_reference": "9" * 15},
        {"payment_reference": 12345},
        {"event": "payment.refund"},
    ]
    bodies = [json.dumps({**good, **fields}).encode() for fields in bad_fields]
    missing = [json.dumps({k: v for k, v in good.items() if k != key}).encode() for key in good]
    return bodies + [m for m in missing if b'"status"' in m or b'"change_id"' in m]


def test_no_body_is_a_500_and_a_refused_one_writes_nothing(client, paid):
    bodies = HOSTILE + _hostile_bodies(paid)
    codes = []
    for raw in bodies:
        response = post_signed(client, raw)
        codes.append(response.status_code)
        assert response.status_code < 500, raw[:80]

    refused = [(raw[:80], code) for raw, code in zip(bodies, codes, strict=True) if code != 200]
    assert all(code == 400 for _raw, code in refused), refused
    # Only the good change missing an optional field (reason, refundable, delivery, event)
    # passed: stored once, with the opening change, under its one change_id.
    assert codes.count(200) == 4
    request = _request(paid)
    assert request.changes.count() == 2
    assert request.status == "ready"


def test_an_oversized_reason_is_cut_not_refused(client, paid):
    body = change(paid, "rejected", reason="ر" * 1000)
    assert post_signed(client, body).status_code == 200
    assert len(_request(paid).reason) == 200
