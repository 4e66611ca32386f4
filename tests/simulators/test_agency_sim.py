"""The agency billing simulator, run as a real process and pushing webhooks to a real port."""

import json
import time

import pytest

from core.signing import SignatureError, verify
from simulators.testing import start
from tests.simulators.recorder import Recorder, wait_until

SECRET = "agency-test-secret"
PAID_AT = "2026-12-01T10:00:00+00:00"

# Ends in 5: 1 + 5 % 3 = 3 bills of 1000 + 123455 % 9000 = 7455, then 7955, 8455; first digit odd.
FULL_ONLY = "123455"
# Ends in 4: 2 bills of 1000 + 223454 % 9000 = 8454 and 8954; first digit even: partial.
PARTIAL = "223454"


@pytest.fixture
def recorder():
    recorder = Recorder("/agency/webhook", "webhooks")
    yield recorder
    recorder.close()


@pytest.fixture
def sim(recorder):
    with start("agency", agency="ELEC", callback_url=recorder.url, secret=SECRET) as sim:
        yield sim


def inquire(sim, reference, **extra):
    body = {"service": "electricity", "reference": reference, **extra}
    return sim.post("/v1/bills/inquiry", body)


def payment(key, reference=FULL_ONLY, bill_ids=None, amount=7455, **extra):
    return {
        "payment_reference": key,
        "service": "electricity",
        "reference": reference,
        "bill_ids": [f"{reference}-1"] if bill_ids is None else bill_ids,
        "amount": amount,
        "paid_at": PAID_AT,
        **extra,
    }


def pay(sim, key="R-0001", **kwargs):
    return sim.post("/v1/payments", payment(key, **kwargs))


def verified(call, secret=SECRET) -> dict:
    verify(
        secret.encode(),
        call["headers"]["x-agency-timestamp"],
        call["headers"]["x-agency-signature"],
        call["body"],
        now=time.time(),
    )
    return json.loads(call["body"])


# --- inquiry ------------------------------------------------------------------------


def test_an_account_follows_from_its_reference(sim):
    answer = inquire(sim, FULL_ONLY)

    assert answer.status == 200, answer.text
    body = answer.json()
    assert body == {
        "reference": FULL_ONLY,
        "name_masked": body["name_masked"],
        "bills": [
            {
                "bill_id": f"{FULL_ONLY}-1",
                "amount": 7455,
                "due_date": "2026-10-01",
                "description": "electricity 2026-10",
            },
            {
                "bill_id": f"{FULL_ONLY}-2",
                "amount": 7955,
                "due_date": "2026-11-01",
                "description": "electricity 2026-11",
            },
            {
                "bill_id": f"{FULL_ONLY}-3",
                "amount": 8455,
                "due_date": "2026-12-01",
                "description": "electricity 2026-12",
            },
        ],
        "partial_allowed": False,
        "advance_allowed": False,
        "minimum": 23865,
        "total": 23865,
    }
    assert body["name_masked"] == "S*** A*** K***"
    assert inquire(sim, "700007").json()["name_masked"] == "م*** ع*** ح***"
    # The same reference gives the same account every time.
    assert inquire(sim, FULL_ONLY).json() == body


def test_an_even_first_digit_allows_partial_payment_and_months_roll_over(sim):
    body = inquire(sim, PARTIAL).json()
    assert [(b["amount"], b["due_date"]) for b in body["bills"]] == [
        (8454, "2026-10-01"),
        (8954, "2026-11-01"),
    ]
    assert (body["partial_allowed"], body["minimum"], body["total"]) == (True, 1000, 17408)

    # Ends in 8: 1 + 8 % 3 = 3 bills; ends in 6: 1 bill.
    assert len(inquire(sim, "99999998").json()["bills"]) == 3
    assert len(inquire(sim, "1000006").json()["bills"]) == 1


def test_an_unknown_reference_is_404(sim):
    for reference in ("1230000", "12345", "123456789012345678901", "12a456"):
        answer = inquire(sim, reference)
        assert answer.status == 404, reference
        assert answer.json() == {"error": "unknown reference"}
    assert sim.post("/v1/bills/inquiry", {"service": "electricity"}).status == 400


# --- payments -----------------------------------------------------------------------


def test_a_payment_is_accepted_once_and_replayed_with_the_same_answer(sim):
    first = pay(sim, "R-0001")

    assert first.status == 200, first.text
    body = first.json()
    assert body["status"] == "accepted"
    assert body["payment_reference"] == "R-0001"
    assert body["agency_txn_id"].startswith("AG") and body["agency_txn_id"][2:].isdigit()

    again = pay(sim, "R-0001")
    assert (again.status, again.json()) == (200, body)

    stats = sim.get("/v1/stats").json()
    assert (stats["payments_accepted"], stats["duplicates"]) == (1, 1)
    assert stats["agency"] == "ELEC"


def test_the_same_payment_reference_with_another_body_is_a_conflict(sim):
    assert pay(sim, "R-0001").status == 200

    answer = pay(sim, "R-0001", bill_ids=[f"{FULL_ONLY}-2"], amount=7955)

    assert (answer.status, answer.json()) == (409, {"error": "conflict"})
    assert sim.get("/v1/stats").json()["payments_accepted"] == 1


def test_a_paid_bill_leaves_the_inquiry(sim):
    assert pay(sim, "R-0001").status == 200

    body = inquire(sim, FULL_ONLY).json()

    assert [b["bill_id"] for b in body["bills"]] == [f"{FULL_ONLY}-2", f"{FULL_ONLY}-3"]
    assert body["total"] == 7955 + 8455


def test_a_bill_paid_by_another_payment_is_already_paid(sim):
    assert pay(sim, "R-0001").status == 200

    answer = pay(sim, "R-0002")

    assert (answer.status, answer.json()) == (409, {"error": "bill_already_paid"})
    assert sim.get("/v1/payments/R-0002").status == 404


def test_an_amount_that_does_not_settle_the_bills_is_422(sim):
    assert pay(sim, "R-1", amount=7454).status == 422
    assert pay(sim, "R-2", amount=7456).status == 422
    assert pay(sim, "R-3", bill_ids=["999999-1"]).status == 422
    assert pay(sim, "R-4", amount="7455").status == 400
    assert pay(sim, "R-5", bill_ids=[""]).status == 400
    assert sim.get("/v1/stats").json()["payments_accepted"] == 0
    assert len(inquire(sim, FULL_ONLY).json()["bills"]) == 3


def test_a_partial_payment_leaves_the_rest_of_the_bill_owed(sim):
    bills = [f"{PARTIAL}-1", f"{PARTIAL}-2"]
    assert pay(sim, "R-1", reference=PARTIAL, bill_ids=bills, amount=999).status == 422
    assert pay(sim, "R-2", reference=PARTIAL, bill_ids=bills, amount=17409).status == 422

    assert pay(sim, "R-3", reference=PARTIAL, bill_ids=bills, amount=10000).status == 200

    body = inquire(sim, PARTIAL).json()
    assert [(b["bill_id"], b["amount"]) for b in body["bills"]] == [(f"{PARTIAL}-2", 7408)]
    assert body["total"] == 7408


def test_the_status_query_finds_an_accepted_payment(sim):
    accepted = pay(sim, "R-0001").json()

    answer = sim.get("/v1/payments/R-0001")

    assert answer.status == 200
    body = answer.json()
    assert body["status"] == "accepted"
    assert body["agency_txn_id"] == accepted["agency_txn_id"]
    assert (body["reference"], body["amount"], body["bill_ids"]) == (
        FULL_ONLY,
        7455,
        [f"{FULL_ONLY}-1"],
    )
    unknown = sim.get("/v1/payments/R-NEVER")
    assert (unknown.status, unknown.json()) == (404, {"status": "unknown"})


def test_a_void_is_idempotent_and_the_bill_is_owed_again(sim):
    accepted = pay(sim, "R-0001").json()

    first = sim.post("/v1/payments/R-0001/void", {"reason": "customer changed mind"})
    again = sim.post("/v1/payments/R-0001/void", {"reason": "customer changed mind"})

    assert first.status == again.status == 200
    assert first.json()["status"] == "voided"
    assert first.json() == again.json()
    assert first.json()["agency_txn_id"] == accepted["agency_txn_id"]
    assert sim.get("/v1/payments/R-0001").json()["status"] == "voided"
    assert len(inquire(sim, FULL_ONLY).json()["bills"]) == 3
    assert sim.get("/v1/stats").json()["voids"] == 1
    assert sim.post("/v1/payments/R-NEVER/void", {"reason": "x"}).status == 404


# --- faults on the API --------------------------------------------------------------


def test_slow_answers_late(sim):
    asked = time.monotonic()
    answer = inquire(sim, FULL_ONLY, fault={"slow": 1.0})

    assert answer.status == 200
    assert time.monotonic() - asked >= 0.9


def test_timeout_holds_the_request_past_the_clients_patience(sim):
    with pytest.raises(TimeoutError):
        sim.post("/v1/payments", payment("R-HELD", fault={"timeout": True}), timeout=0.5)

    # Held, not processed: the agency answers others meanwhile and knows nothing of it.
    assert sim.get("/v1/payments/R-HELD").json() == {"status": "unknown"}
    # The held request does not keep the simulator from stopping.
    sim.stop()
    assert sim.process.returncode == 0


def test_error_5xx_is_a_503_and_nothing_is_done(sim):
    answer = pay(sim, "R-0001", fault={"error_5xx": True})

    assert answer.status == 503
    assert sim.get("/v1/payments/R-0001").status == 404
    assert pay(sim, "R-0001").status == 200
    voiding = sim.post("/v1/payments/R-0001/void", {"reason": "r", "fault": {"error_5xx": True}})
    assert voiding.status == 503
    assert sim.get("/v1/payments/R-0001").json()["status"] == "accepted"


def test_malformed_answers_200_with_a_body_that_is_not_json(sim):
    sim.post("/v1/faults", {"malformed": True})
    answer = inquire(sim, FULL_ONLY)

    assert answer.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.body)

    assert pay(sim, "R-0001").status == 200  # garbled too
    sim.delete("/v1/faults")
    # The payment behind the garbled answer was made.
    assert sim.get("/v1/payments/R-0001").json()["status"] == "accepted"


def test_bill_changed_refuses_the_payment_after_a_good_inquiry(sim):
    sim.post("/v1/faults", {"bill_changed": True})
    assert inquire(sim, FULL_ONLY).status == 200

    answer = pay(sim, "R-0001")

    assert (answer.status, answer.json()) == (409, {"error": "bill_changed"})
    assert sim.get("/v1/payments/R-0001").status == 404


def test_already_paid_refuses_the_payment(sim):
    answer = pay(sim, "R-0001", fault={"already_paid": True})

    assert (answer.status, answer.json()) == (409, {"error": "bill_already_paid"})
    assert sim.get("/v1/payments/R-0001").status == 404


def test_accept_no_answer_drops_the_connection_after_accepting(sim):
    with pytest.raises(ConnectionError):
        pay(sim, "R-0001", fault={"accept_no_answer": True})

    status = sim.get("/v1/payments/R-0001")
    assert status.status == 200
    assert status.json()["status"] == "accepted"
    # Asking again with the same key gets the answer that was lost.
    again = pay(sim, "R-0001")
    assert again.status == 200
    assert again.json()["agency_txn_id"] == status.json()["agency_txn_id"]
    assert sim.get("/v1/stats").json()["payments_accepted"] == 1


def test_faults_are_set_globally_until_cleared_and_unknown_ones_refused(sim):
    assert sim.post("/v1/faults", {"error_5xx": True}).json() == {"error_5xx": True}
    assert inquire(sim, FULL_ONLY).status == 503
    assert sim.get("/v1/payments/R-0001").status == 503
    assert sim.delete("/v1/faults").json() == {}
    assert inquire(sim, FULL_ONLY).status == 200
    assert sim.post("/v1/faults", {"meteor": True}).status == 400
    assert inquire(sim, FULL_ONLY, fault={"meteor": True}).status == 400


# --- service requests and webhooks --------------------------------------------------


def change(sim, key, status, **extra):
    return sim.post(f"/v1/requests/{key}/status", {"status": status, **extra})


def test_a_status_change_is_pushed_as_a_signed_webhook(sim, recorder):
    assert pay(sim, "R-0001").status == 200
    answer = change(sim, "R-0001", "rejected", reason="documents missing", refundable=True)
    assert answer.status == 200, answer.text

    [call] = recorder.wait_for(1)

    assert call["headers"]["content-type"] == "application/json"
    body = verified(call)
    assert body == {
        "event": "request.status",
        "payment_reference": "R-0001",
        "status": "rejected",
        "reason": "documents missing",
        "refundable": True,
        "changed_at": body["changed_at"],
        "by": body["by"],
        "change_id": answer.json()["change_id"],
        "delivery": 1,
    }
    assert body["changed_at"].endswith("+00:00")
    assert body["by"]
    log = wait_until(lambda: sim.get("/v1/webhooks").json()["webhooks"], what="the log")
    assert [(w["change_id"], w["kind"], w["status"]) for w in log] == [
        (body["change_id"], "original", 200)
    ]


def test_each_change_has_its_own_change_id(sim, recorder):
    pay(sim, "R-0001")
    change(sim, "R-0001", "in_review")
    change(sim, "R-0001", "ready")

    calls = recorder.wait_for(2)

    bodies = sorted((verified(c) for c in calls), key=lambda b: b["changed_at"])
    assert [b["status"] for b in bodies] == ["in_review", "ready"]
    assert len({b["change_id"] for b in bodies}) == 2
    changes = sim.get("/v1/requests/R-0001").json()["changes"]
    assert [c["status"] for c in changes] == ["in_review", "ready"]


def test_a_change_for_an_unknown_payment_or_status_is_refused(sim):
    assert change(sim, "R-NEVER", "ready").status == 404
    pay(sim, "R-0001")
    assert change(sim, "R-0001", "lost").status == 400
    assert change(sim, "R-0001", "ready", refundable="yes").status == 400


def test_a_failed_webhook_is_retried_until_the_app_answers_2xx(recorder):
    recorder.answers = [503, 429, 409]
    with start("agency", callback_url=recorder.url, secret=SECRET, callback_backoff=0.05) as sim:
        pay(sim, "R-0001")
        change(sim, "R-0001", "ready")

        calls = recorder.wait_for(4)

        assert [c["answered"] for c in calls] == [503, 429, 409, 200]
        assert len({c["body"] for c in calls}) == 1
        log = sim.get("/v1/webhooks").json()["webhooks"]
        assert [(w["attempt"], w["status"]) for w in log] == [
            (1, 503),
            (2, 429),
            (3, 409),
            (4, 200),
        ]


def test_a_client_error_stops_the_retries(recorder):
    recorder.answers = [400]
    with start("agency", callback_url=recorder.url, secret=SECRET, callback_backoff=0.05) as sim:
        pay(sim, "R-0001")
        refused = change(sim, "R-0001", "in_review").json()
        recorder.wait_for(1)
        # Time for a retry, which would come 0.05 s later, to show itself first.
        time.sleep(0.5)
        change(sim, "R-0001", "ready")

        calls = recorder.wait_for(2)
        log = sim.get("/v1/webhooks").json()["webhooks"]

    assert [json.loads(c["body"])["status"] for c in calls] == ["in_review", "ready"]
    assert [w["status"] for w in log if w["change_id"] == refused["change_id"]] == [400]


def test_duplicate_webhook_delivers_each_change_twice_each_signed_anew(sim, recorder):
    pay(sim, "R-0001")
    change(sim, "R-0001", "ready", fault={"duplicate_webhook": True})

    first, second = recorder.wait_for(2)

    one, two = verified(first), verified(second)
    assert (one.pop("delivery"), two.pop("delivery")) == (1, 2)
    assert one == two
    assert first["headers"]["x-agency-signature"] != second["headers"]["x-agency-signature"]


def test_bad_signature_fails_verification(sim, recorder):
    pay(sim, "R-0001")
    sim.post("/v1/faults", {"bad_signature": True})
    change(sim, "R-0001", "ready")

    [call] = recorder.wait_for(1)

    with pytest.raises(SignatureError, match="signature"):
        verified(call)


def test_the_callback_url_and_secret_can_be_set_after_start(recorder):
    with start("agency") as sim:
        assert sim.post("/v1/config", {"secret": ""}).status == 400
        assert sim.post("/v1/config", {"callback": recorder.url}).status == 400
        answer = sim.post("/v1/config", {"callback_url": recorder.url, "secret": "late"})
        assert answer.status == 200
        assert answer.json()["callback_url"] == recorder.url
        pay(sim, "R-0001")
        change(sim, "R-0001", "ready")

        [call] = recorder.wait_for(1)

    assert verified(call, secret="late")["status"] == "ready"


# --- state across a restart ---------------------------------------------------------


def test_a_restarted_agency_still_knows_the_payments_it_accepted(tmp_path):
    state = tmp_path / "agency.json"
    with start("agency", state=state) as sim:
        first = pay(sim, "R-0001").json()
        assert sim.post("/v1/payments/R-0001/void", {"reason": "r"}).status == 200
        assert pay(sim, "R-0002").status == 200
        change(sim, "R-0002", "in_review")
    assert sim.process.returncode == 0
    assert not list(tmp_path.glob("*.tmp"))

    with start("agency", state=state) as again:
        assert again.get("/v1/payments/R-0001").json()["status"] == "voided"
        replay = pay(again, "R-0002")
        assert replay.status == 200
        assert replay.json()["agency_txn_id"] != first["agency_txn_id"]
        assert (
            again.get("/v1/payments/R-0002").json()["agency_txn_id"]
            == (replay.json()["agency_txn_id"])
        )
        assert pay(again, "R-0003").json() == {"error": "bill_already_paid"}
        assert [c["status"] for c in again.get("/v1/requests/R-0002").json()["changes"]] == [
            "in_review"
        ]
        stats = again.get("/v1/stats").json()

    assert (stats["payments_accepted"], stats["duplicates"], stats["voids"]) == (2, 1, 1)


def test_the_settings_can_come_from_the_environment(monkeypatch, recorder, tmp_path):
    monkeypatch.setenv("AGENCY_SIM_SECRET", "from-env")
    monkeypatch.setenv("AGENCY_SIM_CALLBACK_URL", recorder.url)
    monkeypatch.setenv("AGENCY_SIM_STATE", str(tmp_path / "state.json"))
    with start("agency") as sim:
        pay(sim, "R-0001")
        change(sim, "R-0001", "ready")

        [call] = recorder.wait_for(1)

    assert verified(call, secret="from-env")["status"] == "ready"
    saved = json.loads((tmp_path / "state.json").read_text())
    assert list(saved["payments"]) == ["R-0001"]


def test_the_stats_count_inquiries_payments_duplicates_and_voids(sim):
    inquire(sim, FULL_ONLY)
    inquire(sim, "1230000")
    pay(sim, "R-0001")
    pay(sim, "R-0001")
    pay(sim, "R-0001")
    sim.post("/v1/payments/R-0001/void", {})
    sim.post("/v1/payments/R-0001/void", {})

    assert sim.get("/v1/stats").json() == {
        "agency": "ELEC",
        "inquiries": 2,
        "payments_accepted": 1,
        "duplicates": 2,
        "voids": 1,
    }


def test_it_answers_health_and_refuses_a_wrong_method(sim):
    assert sim.get("/health").json() == {"ok": True}
    answer = sim.delete("/v1/payments")
    assert answer.status == 405
    assert sim.get("/v1/nothing").status == 404


def test_a_fee_without_bills_is_accepted_as_it_is_and_settles_no_bill(sim):
    """A request or licence fee: no bill named, the payment held under its reference."""
    answer = pay(sim, "R-FEE", reference="20261201", bill_ids=[], amount=51_500)

    assert answer.status == 200, answer.text
    held = sim.get("/v1/payments/R-FEE").json()
    assert (held["status"], held["amount"], held["bill_ids"]) == ("accepted", 51_500, [])
    assert len(inquire(sim, FULL_ONLY).json()["bills"]) == 3  # nothing else paid
