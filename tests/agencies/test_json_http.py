"""JsonHttpAdapter against a scripted agency: each error kind, strict replies, retries."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation

from agencies.adapters import Ack, Bill, NotifyPayment, Presentment, adapter_for
from agencies.adapters.json_http import JsonHttpAdapter
from agencies.errors import (
    AgencyRefused,
    AgencyUnavailable,
    BillChanged,
    OutcomeUnknown,
    UnknownReference,
)
from tests.agencies.conftest import answer, drop, raw, slow, trickle

GENEROUS = 10.0  # seconds: an upper bound no healthy machine comes near

PRESENTMENT = {
    "reference": "12345678",
    "name_masked": "M*** A***",
    "bills": [
        {"bill_id": "B-1", "amount": 15_000, "due_date": "2026-11-01", "description": "Oct"},
        {"bill_id": "B-2", "amount": 12_550, "due_date": "2026-12-01", "description": "Nov"},
    ],
    "partial_allowed": False,
    "advance_allowed": True,
    "minimum": 15_000,
    "total": 27_550,
}
ACCEPTED = {"status": "accepted", "agency_txn_id": "EE-991", "payment_reference": "P-1"}


def make(url, **options) -> JsonHttpAdapter:
    options = {"timeout": 2.0, "inquiry_ceiling": 10.0, "retries": 1, **options}
    return JsonHttpAdapter(agency_code="EEHC", url=url, **options)


def a_payment(**changes) -> NotifyPayment:
    fields = {
        "payment_reference": "P-1",
        "service_code": "ELEC",
        "reference": "12345678",
        "bill_ids": ("B-1",),
        "amount": 15_000,
        "paid_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        **changes,
    }
    return NotifyPayment(**fields)


# --- inquiry ----------------------------------------------------------------------------


def test_an_inquiry_reads_the_presentment(agency):
    agency.script(answer(200, PRESENTMENT))

    presentment = make(agency.url).inquire("ELEC", "12345678")

    assert presentment == Presentment(
        reference="12345678",
        name_masked="M*** A***",
        bills=(
            Bill("B-1", 15_000, date(2026, 11, 1), "Oct"),
            Bill("B-2", 12_550, date(2026, 12, 1), "Nov"),
        ),
        partial_allowed=False,
        advance_allowed=True,
        minimum=15_000,
        total=27_550,
    )
    [seen] = agency.requests
    assert (seen.method, seen.path) == ("POST", "/v1/bills/inquiry")
    assert seen.json() == {"service": "ELEC", "reference": "12345678"}
    assert seen.headers["Content-Type"] == "application/json"


def test_an_unknown_reference_is_a_refusal_asked_once(agency):
    agency.script(answer(404, {"error": "unknown_reference"}))

    with pytest.raises(UnknownReference) as caught:
        make(agency.url, retries=3).inquire("ELEC", "000")

    assert isinstance(caught.value, AgencyRefused)
    assert "no such reference" in str(caught.value.message)
    assert len(agency.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [(409, "bill_changed", BillChanged), (422, "invalid_reference", AgencyRefused)],
)
def test_an_inquiry_refused_says_the_agencys_code(agency, status, error, kind):
    agency.script(answer(status, {"error": error}))

    with pytest.raises(kind) as caught:
        make(agency.url).inquire("ELEC", "12345678")

    assert type(caught.value) is kind
    assert caught.value.code == error
    assert len(agency.requests) == 1


def test_an_inquiry_is_retried_after_a_5xx(agency):
    agency.script(answer(503, {"error": "busy"}), answer(200, PRESENTMENT))

    presentment = make(agency.url, retries=1).inquire("ELEC", "12345678")

    assert presentment.total == 27_550
    assert len(agency.requests) == 2


def test_an_inquiry_gives_up_after_its_retries(agency):
    agency.script(answer(503, {"error": "busy"}))

    with pytest.raises(AgencyUnavailable) as caught:
        make(agency.url, retries=2).inquire("ELEC", "12345678")

    assert len(agency.requests) == 3
    assert "3 attempt(s)" in caught.value.detail
    assert "is not answering" in str(caught.value.message)


def test_an_inquiry_that_times_out_is_unavailable(agency):
    agency.script(slow(5, answer(200, PRESENTMENT)))

    started = time.monotonic()
    with pytest.raises(AgencyUnavailable) as caught:
        make(agency.url, timeout=0.3, retries=0).inquire("ELEC", "12345678")

    assert not isinstance(caught.value, OutcomeUnknown)
    assert time.monotonic() - started < GENEROUS
    assert "timed out" in caught.value.detail


def test_an_inquiry_whose_connection_drops_is_unavailable_and_retried(agency):
    agency.script(drop(), answer(200, PRESENTMENT))

    assert make(agency.url, retries=1).inquire("ELEC", "12345678").total == 27_550
    assert len(agency.requests) == 2


def test_an_inquiry_to_nobody_is_unavailable(closed_port_url):
    with pytest.raises(AgencyUnavailable):
        make(closed_port_url, retries=0).inquire("ELEC", "12345678")


def test_the_inquiry_ceiling_bounds_all_the_retries(agency):
    # An attempt may take 20 s and there are 21 of them: the ceiling stops it all at 1.5 s.
    agency.script(slow(60, answer(200, PRESENTMENT)))
    adapter = make(agency.url, timeout=20.0, retries=20, inquiry_ceiling=1.5)

    started = time.monotonic()
    with pytest.raises(AgencyUnavailable) as caught:
        adapter.inquire("ELEC", "12345678")

    assert time.monotonic() - started < GENEROUS
    assert len(agency.requests) == 1
    assert "within 1.5 s" in caught.value.detail
    assert "did not answer within 1.5 s" in str(caught.value.message)


def test_the_retries_of_an_inquiry_stop_at_the_ceiling(agency):
    agency.script(slow(60, answer(200, PRESENTMENT)))
    adapter = make(agency.url, timeout=0.5, retries=50, inquiry_ceiling=2.0)

    started = time.monotonic()
    with pytest.raises(AgencyUnavailable, match="within 2 s"):
        adapter.inquire("ELEC", "12345678")

    assert time.monotonic() - started < GENEROUS
    assert 2 <= len(agency.requests) <= 4


def test_a_trickling_answer_is_cut_at_the_timeout(agency):
    # Each byte comes before a per-read socket timeout would fire; the deadline still holds.
    agency.script(trickle(30))

    started = time.monotonic()
    with pytest.raises(AgencyUnavailable):
        make(agency.url, timeout=0.5, retries=0).inquire("ELEC", "12345678")

    assert time.monotonic() - started < GENEROUS


def _without(key):
    return {k: v for k, v in PRESENTMENT.items() if k != key}


def _bill(**changes):
    bill = {**PRESENTMENT["bills"][0], **changes}
    return {**PRESENTMENT, "bills": [bill], "total": 15_000}


MALFORMED = {
    "not JSON": b"<html>oops</html>",
    "a list": b"[]",
    "no total": _without("total"),
    "no bills": _without("bills"),
    "bills not a list": {**PRESENTMENT, "bills": {}},
    "a bill not an object": {**PRESENTMENT, "bills": ["B-1"]},
    "negative amount": _bill(amount=-1) | {"total": -1},
    "amount as text": _bill(amount="15000"),
    "amount as a float": _bill(amount=150.0),
    "amount as a boolean": _bill(amount=True) | {"total": 1},
    "minimum negative": {**PRESENTMENT, "minimum": -5},
    "a date that is no date": _bill(due_date="2026-13-01"),
    "a date with a time": _bill(due_date="2026-11-01T00:00:00"),
    "a date as a number": _bill(due_date=20261101),
    "an empty bill id": _bill(bill_id=" "),
    "a flag as text": {**PRESENTMENT, "partial_allowed": "no"},
    "a flag as a number": {**PRESENTMENT, "advance_allowed": 1},
    "total not the sum": {**PRESENTMENT, "total": 27_551},
    "another reference": {**PRESENTMENT, "reference": "87654321"},
    "the same bill twice": {
        **PRESENTMENT,
        "bills": [PRESENTMENT["bills"][0]] * 2,
        "total": 30_000,
    },
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_presentment_is_unavailable(agency, body):
    agency.script(raw(200, body) if isinstance(body, bytes) else answer(200, body))

    with pytest.raises(AgencyUnavailable) as caught:
        make(agency.url, retries=0).inquire("ELEC", "12345678")

    assert "inquiry" in caught.value.detail


def test_an_unexpected_success_status_is_unavailable(agency):
    agency.script(answer(204))

    with pytest.raises(AgencyUnavailable, match="unexpected status 204"):
        make(agency.url, retries=0).inquire("ELEC", "12345678")


# --- payment ----------------------------------------------------------------------------


def test_a_payment_is_acknowledged_with_the_agencys_id(agency):
    agency.script(answer(200, ACCEPTED))
    cairo = datetime(2026, 12, 1, 11, 30, tzinfo=ZoneInfo("Africa/Cairo"))

    ack = make(agency.url).notify_payment(a_payment(paid_at=cairo, bill_ids=("B-1", "B-2")))

    assert ack == Ack(agency_txn_id="EE-991", status="accepted")
    [seen] = agency.requests
    assert (seen.method, seen.path) == ("POST", "/v1/payments")
    assert seen.json() == {
        "payment_reference": "P-1",
        "service": "ELEC",
        "reference": "12345678",
        "bill_ids": ["B-1", "B-2"],
        "amount": 15_000,
        "paid_at": "2026-12-01T11:30:00+02:00",
    }


@pytest.mark.parametrize("error", ["bill_already_paid", "bill_changed", "conflict"])
def test_a_payment_on_a_changed_bill_is_refused(agency, error):
    agency.script(answer(409, {"error": error}))

    with pytest.raises(BillChanged) as caught:
        make(agency.url).notify_payment(a_payment())

    assert caught.value.code == error
    assert "inquire again" in str(caught.value.message)


def test_a_payment_the_agency_finds_invalid_is_refused(agency):
    agency.script(answer(422, {"error": "amount_below_minimum"}))

    with pytest.raises(AgencyRefused) as caught:
        make(agency.url).notify_payment(a_payment())

    assert type(caught.value) is AgencyRefused
    assert caught.value.code == "amount_below_minimum"


def test_a_payment_is_never_retried(agency):
    agency.script(answer(503, {"error": "busy"}), answer(200, ACCEPTED))

    with pytest.raises(AgencyUnavailable) as caught:
        make(agency.url, retries=5).notify_payment(a_payment())

    assert not isinstance(caught.value, OutcomeUnknown)
    assert len(agency.requests) == 1


def test_a_payment_answered_500_may_have_been_applied(agency):
    # A 500 can come after the agency's commit: only a 503 says it did nothing.
    agency.script(answer(500, {"error": "oops"}))

    with pytest.raises(OutcomeUnknown):
        make(agency.url, retries=5).notify_payment(a_payment())

    assert len(agency.requests) == 1


def test_a_payment_whose_connection_drops_after_sending_is_of_unknown_outcome(agency):
    agency.script(drop())

    with pytest.raises(OutcomeUnknown) as caught:
        make(agency.url, retries=5).notify_payment(a_payment())

    assert len(agency.requests) == 1
    assert "do not take the money again" in str(caught.value.message)


def test_a_payment_without_an_answer_in_time_is_of_unknown_outcome(agency):
    agency.script(slow(5, answer(200, ACCEPTED)))

    started = time.monotonic()
    with pytest.raises(OutcomeUnknown) as caught:
        make(agency.url, timeout=0.3, retries=5).notify_payment(a_payment())

    assert time.monotonic() - started < GENEROUS
    assert len(agency.requests) == 1
    assert "timed out" in caught.value.detail


def test_a_payment_to_nobody_was_not_applied(closed_port_url):
    with pytest.raises(AgencyUnavailable) as caught:
        make(closed_port_url).notify_payment(a_payment())

    assert not isinstance(caught.value, OutcomeUnknown)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "accepted", "payment_reference": "P-1"},
        {**ACCEPTED, "agency_txn_id": 991},
        {**ACCEPTED, "payment_reference": "P-2"},
        {**ACCEPTED, "status": "maybe"},
    ],
    ids=["no txn id", "txn id a number", "another payment", "unknown status"],
)
def test_a_payment_acknowledged_unreadably_is_of_unknown_outcome(agency, body):
    agency.script(answer(200, body))

    with pytest.raises(OutcomeUnknown):
        make(agency.url).notify_payment(a_payment())


def test_a_payment_needs_an_aware_time(agency):
    with pytest.raises(ValueError, match="aware"):
        make(agency.url).notify_payment(a_payment(paid_at=datetime(2026, 12, 1, 9, 30)))  # noqa: DTZ001

    assert agency.requests == []


# --- status -------------------------------------------------------------------------------


def test_the_status_of_a_payment_the_agency_holds(agency):
    agency.script(answer(200, ACCEPTED))

    assert make(agency.url).payment_status("P-1") == Ack("EE-991")
    [seen] = agency.requests
    assert (seen.method, seen.path, seen.body) == ("GET", "/v1/payments/P-1", b"")


def test_the_status_of_a_payment_the_agency_does_not_hold_is_none(agency):
    agency.script(answer(404, {"error": "not_found"}))

    assert make(agency.url).payment_status("P-1") is None


def test_a_voided_payment_is_reported_so(agency):
    agency.script(answer(200, {**ACCEPTED, "status": "voided"}))

    assert make(agency.url).payment_status("P-1") == Ack("EE-991", status="voided")


def test_the_status_is_a_read_and_is_retried(agency):
    agency.script(drop(), answer(502), answer(200, ACCEPTED))

    assert make(agency.url, retries=2).payment_status("P-1") == Ack("EE-991")
    assert len(agency.requests) == 3


def test_the_status_of_another_payment_is_unavailable(agency):
    agency.script(answer(200, {**ACCEPTED, "payment_reference": "P-2"}))

    with pytest.raises(AgencyUnavailable, match="another payment"):
        make(agency.url).payment_status("P-1")


def test_a_payment_reference_is_one_path_segment(agency):
    agency.script(answer(404))

    make(agency.url).payment_status("P/1 ?x")

    assert agency.requests[0].path == "/v1/payments/P%2F1%20%3Fx"


# --- void ---------------------------------------------------------------------------------


def test_a_void_is_told_with_its_reason(agency):
    agency.script(answer(200, {"status": "voided"}))

    assert make(agency.url).notify_void("P-1", "wrong bill") is None
    [seen] = agency.requests
    assert (seen.method, seen.path) == ("POST", "/v1/payments/P-1/void")
    assert seen.json() == {"reason": "wrong bill"}


def test_a_void_whose_connection_drops_is_of_unknown_outcome(agency):
    agency.script(drop())

    with pytest.raises(OutcomeUnknown):
        make(agency.url, retries=3).notify_void("P-1", "wrong bill")

    assert len(agency.requests) == 1


def test_a_void_is_never_retried(agency):
    agency.script(answer(503), answer(200))

    with pytest.raises(AgencyUnavailable):
        make(agency.url, retries=3).notify_void("P-1", "wrong bill")

    assert len(agency.requests) == 1


def test_a_void_of_an_unknown_payment_is_refused(agency):
    agency.script(answer(404, {"error": "not_found"}))

    with pytest.raises(UnknownReference):
        make(agency.url).notify_void("P-1", "wrong bill")


# --- signing, url, settings -----------------------------------------------------------


def test_requests_are_signed_with_the_secret(agency):
    agency.script(answer(200, ACCEPTED))

    make(agency.url, secret="s3cret").notify_payment(a_payment())

    seen = agency.requests[0]
    stamp = seen.headers["X-Agency-Timestamp"]
    assert abs(int(stamp) - time.time()) < 60
    expected = hmac.new(b"s3cret", stamp.encode() + b"." + seen.body, hashlib.sha256)
    assert seen.headers["X-Agency-Signature"] == expected.hexdigest()


def test_without_a_secret_nothing_is_signed(agency):
    make(agency.url).notify_void("P-1", "x")

    assert "X-Agency-Signature" not in agency.requests[0].headers


def test_a_url_with_a_path_prefixes_every_call(agency):
    agency.script(answer(404))

    make(agency.url + "/eehc/").payment_status("P-1")

    assert agency.requests[0].path == "/eehc/v1/payments/P-1"


def test_an_agency_without_a_system_has_no_adapter(settings):
    settings.AGENCY_SYSTEMS = {"EEHC": {"url": "http://127.0.0.1:1"}}

    assert adapter_for("CAIRO-LS") is None


def test_the_adapter_comes_from_the_settings(agency, settings):
    settings.AGENCY_SYSTEMS = {
        "EEHC": {
            "adapter": "agencies.adapters.json_http.JsonHttpAdapter",
            "url": agency.url,
            "timeout": 1.5,
            "inquiry_ceiling": 4,
            "retries": 0,
            "secret": "k",
        }
    }
    agency.script(answer(503))

    adapter = adapter_for("EEHC")

    assert adapter.inner.timeout == 1.5
    assert adapter.inner.inquiry_ceiling == 4.0
    assert adapter.breaker.failures == 5 and adapter.breaker.cool_off == 30.0
    with pytest.raises(AgencyUnavailable) as caught:
        adapter.inquire("ELEC", "1")
    assert len(agency.requests) == 1  # retries 0
    assert caught.value.agency_code == "EEHC"
    assert "X-Agency-Signature" in agency.requests[0].headers


def test_the_defaults_fill_what_the_settings_leave_out(settings):
    settings.AGENCY_SYSTEMS = {"EEHC": {"url": "http://127.0.0.1:8703"}}

    adapter = adapter_for("EEHC")

    assert isinstance(adapter.inner, JsonHttpAdapter)
    assert (adapter.inner.timeout, adapter.inner.inquiry_ceiling) == (5.0, 30.0)
    assert (adapter.inner.retries, adapter.inner.secret) == (1, "")


@pytest.mark.parametrize(
    ("system", "complaint"),
    [
        ("http://x", "must be an object"),
        ({"timeout": 1}, "url must be an http"),
        ({"url": "ftp://x"}, "url must be an http"),
        ({"url": "http://x", "timeout": 0}, "timeout must be a positive"),
        ({"url": "http://x", "timeout": "5"}, "timeout must be a positive"),
        ({"url": "http://x", "inquiry_ceiling": -1}, "inquiry_ceiling must be a positive"),
        ({"url": "http://x", "retries": -1}, "retries must be a whole number"),
        ({"url": "http://x", "retries": 1.5}, "retries must be a whole number"),
        ({"url": "http://x", "breaker_failures": 0}, "breaker_failures must be"),
        ({"url": "http://x", "secret": 5}, "secret must be a string"),
        ({"url": "http://x", "adapter": "agencies.nowhere.Adapter"}, "cannot be imported"),
        ({"url": "http://x", "tiemout": 5}, "unknown keys: tiemout"),
    ],
)
def test_nonsense_in_the_settings_is_refused_by_name(settings, system, complaint):
    settings.AGENCY_SYSTEMS = {"EEHC": system}

    with pytest.raises(ImproperlyConfigured, match=complaint) as caught:
        adapter_for("EEHC")

    assert "AGENCY_SYSTEMS['EEHC']" in str(caught.value)


def test_the_messages_are_translatable(agency):
    agency.script(answer(404))
    with pytest.raises(UnknownReference) as caught:
        make(agency.url).inquire("ELEC", "1")

    with translation.override("en"):
        english = str(caught.value.message)
        assert str(caught.value) == f"{english} ({caught.value.detail})"
    with translation.override("ar"):
        arabic = str(caught.value.message)
    assert "EEHC" in english and "EEHC" in arabic
    assert arabic != english
