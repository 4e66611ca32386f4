"""The agencies' JSON adapter against the agency simulator, a process of its own.

What the counter will rely on: the presentment read as the agency sends it, a
payment accepted once, and an answer lost after the agency applied it (the
"unknown outcome") resolved by the status query, never by sending again.
"""

from datetime import UTC, datetime

import pytest

from agencies.adapters import NotifyPayment, adapter_for
from agencies.errors import AgencyUnavailable, BillChanged, OutcomeUnknown, UnknownReference
from simulators.testing import start

REFERENCE = "4123457"  # 4123457 % 9000 = 1457; last digit 7 -> 1 + 7 % 3 = 2 bills
PAID_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def agency(settings, tmp_path):
    with start("agency", agency="ELEC", state=str(tmp_path / "agency.json")) as sim:
        settings.AGENCY_SYSTEMS = {
            "ELEC": {
                "adapter": "agencies.adapters.json_http.JsonHttpAdapter",
                "url": sim.url,
                "timeout": 2.0,
                "inquiry_ceiling": 5.0,
                "retries": 1,
            }
        }
        yield sim


def _pay(adapter, presentment, payment_reference):
    return adapter.notify_payment(
        NotifyPayment(
            payment_reference=payment_reference,
            service_code="EL-201",
            reference=REFERENCE,
            bill_ids=tuple(bill.bill_id for bill in presentment.bills),
            amount=presentment.total,
            paid_at=PAID_AT,
        )
    )


def test_an_inquiry_reads_the_bills_the_agency_presents(agency):
    presentment = adapter_for("ELEC").inquire("EL-201", REFERENCE)

    assert [bill.amount for bill in presentment.bills] == [1000 + 1457, 1000 + 1457 + 500]
    assert presentment.total == sum(bill.amount for bill in presentment.bills)
    assert presentment.partial_allowed is True  # the first digit, 4, is even
    assert "***" in presentment.name_masked


def test_an_unknown_reference_is_said_so(agency):
    with pytest.raises(UnknownReference):
        adapter_for("ELEC").inquire("EL-201", "12340000")


def test_a_payment_is_accepted_once_and_its_bills_are_gone(agency):
    adapter = adapter_for("ELEC")
    presentment = adapter.inquire("EL-201", REFERENCE)
    ack = _pay(adapter, presentment, "900000000001")

    assert ack.agency_txn_id
    assert _pay(adapter, presentment, "900000000001") == ack  # the same notification again
    assert adapter.inquire("EL-201", REFERENCE).bills == ()
    assert agency.get("/v1/stats").json()["payments_accepted"] == 1


def test_an_answer_lost_after_the_agency_applied_it_is_resolved_by_asking(agency):
    adapter = adapter_for("ELEC")
    presentment = adapter.inquire("EL-201", REFERENCE)
    agency.post("/v1/faults", {"accept_no_answer": True})

    with pytest.raises(OutcomeUnknown):
        _pay(adapter, presentment, "900000000002")

    agency.delete("/v1/faults")
    status = adapter.payment_status("900000000002")
    assert status is not None and status.status == "accepted"
    assert agency.get("/v1/stats").json()["payments_accepted"] == 1


def test_a_bill_paid_elsewhere_meanwhile_is_refused(agency):
    adapter = adapter_for("ELEC")
    presentment = adapter.inquire("EL-201", REFERENCE)
    agency.post("/v1/faults", {"bill_changed": True})
    with pytest.raises(BillChanged):
        _pay(adapter, presentment, "900000000003")
    assert adapter.payment_status("900000000003") is None


def test_a_dead_agency_is_unavailable_and_its_circuit_opens(agency):
    adapter = adapter_for("ELEC")
    agency.post("/v1/faults", {"error_5xx": True})
    for _ in range(5):
        with pytest.raises(AgencyUnavailable):
            adapter.inquire("EL-201", REFERENCE)
    before = agency.get("/v1/stats").json()["inquiries"]
    with pytest.raises(AgencyUnavailable) as refused:
        adapter.inquire("EL-201", REFERENCE)
    assert type(refused.value).__name__ == "CircuitOpen"
    assert agency.get("/v1/stats").json()["inquiries"] == before  # not even asked
