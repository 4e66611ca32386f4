"""The wallet provider simulator, run as a real process and called back on a real port."""

import csv
import io
import json
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.signing import SignatureError, verify
from simulators.testing import start
from tests.simulators.recorder import Recorder, wait_until

SECRET = "test-secret"
MERCHANT = "EGPOST0042"
CAIRO = ZoneInfo("Africa/Cairo")


# --- helpers shared with test_providers ---------------------------------------------


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, written again here so the test does not trust the simulator's."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1 ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def qr_payload(amount: int, reference: str, merchant_id: str = MERCHANT) -> str:
    """A dynamic EMVCo merchant QR for ``amount`` piastres, with a correct CRC."""
    body = (
        tlv("00", "01")
        + tlv("01", "12")
        + tlv("26", tlv("00", "eg.post.wallet") + tlv("01", merchant_id))
        + tlv("52", "9399")
        + tlv("53", "818")
        + tlv("54", f"{amount // 100}.{amount % 100:02d}")
        + tlv("58", "EG")
        + tlv("59", "EGYPT POST")
        + tlv("60", "CAIRO")
        + tlv("62", tlv("05", reference))
        + "6304"
    )
    return body + f"{crc16(body.encode()):04X}"


def cairo_day(iso_text: str):
    return datetime.fromisoformat(iso_text).astimezone(CAIRO).date()


def payloads(calls: list[dict]) -> list[dict]:
    return [json.loads(call["body"]) for call in calls]


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def recorder():
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture
def sim(recorder):
    with start("wallet", callback_url=recorder.url, secret=SECRET, merchant_id=MERCHANT) as sim:
        yield sim


def pay(sim, amount=12345, reference="PAY-1", fault=None, wallet="01001234567"):
    body = {"qr": qr_payload(amount, reference), "wallet": wallet}
    if fault is not None:
        body["fault"] = fault
    answer = sim.post("/v1/payments", body)
    assert answer.status == 201, answer.text
    return answer.json()


# --- the QR ------------------------------------------------------------------------


def test_the_test_crc_is_crc16_ccitt_false():
    assert crc16(b"123456789") == 0x29B1


def test_a_payment_is_answered_with_the_transaction(sim):
    txn = pay(sim, amount=12345, reference="PAY-1", wallet="01001234567")

    assert txn["txn_id"].startswith("WT") and len(txn["txn_id"]) == 16
    assert txn["txn_id"][2:].isdigit()
    assert txn == {
        "txn_id": txn["txn_id"],
        "reference": "PAY-1",
        "amount": 12345,
        "currency": "818",
        "wallet": "01001234567",
        "merchant_id": MERCHANT,
        "paid_at": txn["paid_at"],
        "status": "paid",
    }
    assert datetime.fromisoformat(txn["paid_at"]).utcoffset().total_seconds() == 0


def test_an_amount_with_one_decimal_or_none_is_read_as_pounds(sim):
    body = (
        tlv("00", "01")
        + tlv("26", tlv("01", MERCHANT))
        + tlv("54", "7.5")
        + tlv("62", tlv("05", "PAY-7"))
        + "6304"
    )
    answer = sim.post("/v1/payments", {"qr": body + f"{crc16(body.encode()):04X}", "wallet": "w"})

    assert answer.status == 201, answer.text
    assert answer.json()["amount"] == 750


def test_a_qr_with_a_bad_crc_is_refused(sim, recorder):
    good = qr_payload(500, "PAY-1")
    bad = good[:-4] + ("0000" if good[-4:] != "0000" else "FFFF")

    answer = sim.post("/v1/payments", {"qr": bad, "wallet": "01001234567"})

    assert answer.status == 400
    assert "CRC" in answer.json()["error"]
    assert sim.get("/v1/payments?reference=PAY-1").json() == {"payments": []}


def test_a_qr_whose_crc_is_not_last_is_refused(sim):
    answer = sim.post("/v1/payments", {"qr": qr_payload(500, "PAY-1") + "0000", "wallet": "w"})

    assert answer.status == 400


def test_a_qr_for_another_merchant_is_refused(sim):
    answer = sim.post("/v1/payments", {"qr": qr_payload(500, "PAY-1", "OTHER"), "wallet": "w"})

    assert answer.status == 400
    assert "merchant" in answer.json()["error"]


def test_a_payment_without_a_wallet_is_refused(sim):
    answer = sim.post("/v1/payments", {"qr": qr_payload(500, "PAY-1")})

    assert answer.status == 400


# --- callbacks ----------------------------------------------------------------------


def test_the_callback_is_signed_with_the_shared_secret(sim, recorder):
    txn = pay(sim, amount=12345, reference="PAY-1")

    [call] = recorder.wait_for(1)

    assert call["path"] == "/wallet/callback"
    assert call["headers"]["content-type"] == "application/json"
    timestamp = verify(
        SECRET.encode(),
        call["headers"]["x-wallet-timestamp"],
        call["headers"]["x-wallet-signature"],
        call["body"],
        now=time.time(),
    )
    assert abs(timestamp - time.time()) < 60
    assert json.loads(call["body"]) == {
        "event": "payment.paid",
        "delivery": 1,
        "txn_id": txn["txn_id"],
        "reference": "PAY-1",
        "amount": 12345,
        "currency": "818",
        "paid_at": txn["paid_at"],
        "merchant_id": MERCHANT,
    }


def test_the_callback_log_shows_each_attempt(sim, recorder):
    txn = pay(sim)
    recorder.wait_for(1)

    log = wait_until(lambda: sim.get("/v1/callbacks").json()["callbacks"], what="the log")

    assert [(c["txn_id"], c["kind"], c["status"]) for c in log] == [
        (txn["txn_id"], "original", 200)
    ]


def test_bad_signature_fails_verification(sim, recorder):
    pay(sim, fault={"bad_signature": True})

    [call] = recorder.wait_for(1)

    with pytest.raises(SignatureError, match="signature"):
        verify(
            SECRET.encode(),
            call["headers"]["x-wallet-timestamp"],
            call["headers"]["x-wallet-signature"],
            call["body"],
            now=time.time(),
        )


def test_duplicate_delivers_the_same_news_twice_each_signed_anew(sim, recorder):
    pay(sim, fault={"duplicate": True})

    first, second = recorder.wait_for(2)

    one, two = json.loads(first["body"]), json.loads(second["body"])
    assert (one.pop("delivery"), two.pop("delivery")) == (1, 2)
    assert one == two  # the same payment
    # Not the same bytes: a duplicate is a second delivery, not a replay.
    assert first["headers"]["x-wallet-signature"] != second["headers"]["x-wallet-signature"]


def test_replay_sends_the_same_bytes_and_headers_again_later(sim, recorder):
    pay(sim, fault={"replay": 0.5})

    first, replayed = recorder.wait_for(2)

    assert replayed["body"] == first["body"]
    for header in ("x-wallet-timestamp", "x-wallet-signature"):
        assert replayed["headers"][header] == first["headers"][header]
    assert replayed["at"] - first["at"] >= 0.4
    kinds = [c["kind"] for c in sim.get("/v1/callbacks").json()["callbacks"]]
    assert kinds == ["original", "replay"]


def test_lost_sends_no_callback(sim, recorder):
    lost = pay(sim, reference="PAY-LOST", fault={"lost": True})
    # The next payment's callback is the sign that the simulator has moved on.
    kept = pay(sim, reference="PAY-KEPT")

    recorder.wait_for(1)

    assert [p["txn_id"] for p in payloads(recorder.calls())] == [kept["txn_id"]]
    logged = {c["txn_id"] for c in sim.get("/v1/callbacks").json()["callbacks"]}
    assert lost["txn_id"] not in logged
    # The payment itself happened: the status query knows it.
    assert sim.get(f"/v1/payments/{lost['txn_id']}").json()["status"] == "paid"


def test_delay_holds_the_callback_for_that_many_seconds(sim, recorder):
    paid = time.monotonic()
    pay(sim, fault={"delay": 1.5})

    [call] = recorder.wait_for(1)

    assert call["at"] - paid >= 1.4


def test_out_of_order_holds_a_callback_until_the_next_payment_has_called_back(sim, recorder):
    early = pay(sim, reference="PAY-EARLY", fault={"out_of_order": True})
    late = pay(sim, reference="PAY-LATE")

    calls = recorder.wait_for(2)

    assert [p["txn_id"] for p in payloads(calls)] == [late["txn_id"], early["txn_id"]]


def test_pay_twice_makes_two_transactions_for_one_reference(sim, recorder):
    first = pay(sim, amount=2000, reference="PAY-2X", fault={"pay_twice": True})

    calls = recorder.wait_for(2)

    found = sim.get("/v1/payments?reference=PAY-2X").json()["payments"]
    txn_ids = {txn["txn_id"] for txn in found}
    assert len(txn_ids) == 2 and first["txn_id"] in txn_ids
    assert {txn["amount"] for txn in found} == {2000}
    assert {p["txn_id"] for p in payloads(calls)} == txn_ids


def test_a_failed_callback_is_retried_until_the_app_answers_2xx(sim, recorder):
    recorder.answers = [500, 429, 409]
    pay(sim)

    calls = recorder.wait_for(4)

    assert [c["answered"] for c in calls] == [500, 429, 409, 200]
    assert len({c["body"] for c in calls}) == 1
    log = sim.get("/v1/callbacks").json()["callbacks"]
    assert [(c["attempt"], c["status"]) for c in log] == [(1, 500), (2, 429), (3, 409), (4, 200)]


def test_a_client_error_stops_the_retries(sim, recorder):
    recorder.answers = [400]
    refused = pay(sim, reference="PAY-REFUSED")
    recorder.wait_for(1)
    # A retry would come after 0.5 s; this one comes after 2 s, so a retry shows first.
    pay(sim, reference="PAY-NEXT", fault={"delay": 2})

    calls = recorder.wait_for(2)

    assert [p["reference"] for p in payloads(calls)] == ["PAY-REFUSED", "PAY-NEXT"]
    log = sim.get("/v1/callbacks").json()["callbacks"]
    assert [c["status"] for c in log if c["txn_id"] == refused["txn_id"]] == [400]


def test_faults_set_globally_apply_to_every_payment_until_cleared(sim, recorder):
    assert sim.post("/v1/faults", {"duplicate": True}).json() == {"duplicate": True}
    assert sim.get("/v1/faults").json() == {"duplicate": True}
    pay(sim, reference="PAY-1")
    recorder.wait_for(2)

    assert sim.delete("/v1/faults").json() == {}
    pay(sim, reference="PAY-2")
    # A duplicate of PAY-2 would come right after it; PAY-3, after PAY-2 was received.
    recorder.wait_for(3)
    pay(sim, reference="PAY-3")

    calls = recorder.wait_for(4)
    assert [p["reference"] for p in payloads(calls)] == ["PAY-1", "PAY-1", "PAY-2", "PAY-3"]


def test_an_unknown_fault_is_refused(sim):
    assert sim.post("/v1/faults", {"meteor": True}).status == 400
    answer = sim.post(
        "/v1/payments", {"qr": qr_payload(100, "PAY-1"), "wallet": "w", "fault": {"meteor": 1}}
    )
    assert answer.status == 400


def test_the_callback_url_and_secret_can_be_set_after_start(recorder):
    with start("wallet") as sim:
        assert sim.post("/v1/config", {"secret": ""}).status == 400
        assert sim.post("/v1/config", {"callback": recorder.url}).status == 400
        answer = sim.post("/v1/config", {"callback_url": recorder.url, "secret": "late"})
        assert answer.status == 200
        assert answer.json()["callback_url"] == recorder.url
        pay(sim)

        [call] = recorder.wait_for(1)

    headers = call["headers"]
    verify(
        b"late",
        headers["x-wallet-timestamp"],
        headers["x-wallet-signature"],
        call["body"],
        now=time.time(),
    )


# --- status queries -----------------------------------------------------------------


def test_the_status_query_finds_payments_by_reference_and_by_txn_id(sim):
    txn = pay(sim, reference="PAY-Q")

    assert sim.get("/v1/payments?reference=PAY-Q").json() == {"payments": [txn]}
    assert sim.get("/v1/payments?reference=PAY-NONE").json() == {"payments": []}
    assert sim.get(f"/v1/payments/{txn['txn_id']}").json() == txn
    assert sim.get("/v1/payments/WT00000000000000").status == 404
    assert sim.get("/v1/payments").status == 400


def test_slow_status_answers_the_status_query_late(sim):
    txn = pay(sim, reference="PAY-SLOW")
    sim.post("/v1/faults", {"slow_status": 1.0})

    asked = time.monotonic()
    answer = sim.get(f"/v1/payments/{txn['txn_id']}")

    assert answer.status == 200
    assert time.monotonic() - asked >= 0.9


# --- refunds ------------------------------------------------------------------------


def refund(sim, refund_id, txn_id, amount):
    return sim.post("/v1/refunds", {"refund_id": refund_id, "txn_id": txn_id, "amount": amount})


def test_a_refund_is_idempotent_by_refund_id(sim):
    txn = pay(sim, amount=10000)

    first = refund(sim, "R-1", txn["txn_id"], 4000)
    again = refund(sim, "R-1", txn["txn_id"], 4000)

    assert first.status == again.status == 201
    assert first.json() == again.json()
    assert {k: v for k, v in first.json().items() if k != "refunded_at"} == {
        "refund_id": "R-1",
        "txn_id": txn["txn_id"],
        "amount": 4000,
        "status": "refunded",
    }
    # Only one refund was made: 6000 is still there to refund.
    assert refund(sim, "R-2", txn["txn_id"], 6000).status == 201


def test_a_refund_id_reused_with_other_details_is_a_conflict(sim):
    txn = pay(sim, amount=10000)
    refund(sim, "R-1", txn["txn_id"], 4000)

    answer = refund(sim, "R-1", txn["txn_id"], 5000)

    assert answer.status == 409
    assert "R-1" in answer.json()["error"]


def test_a_refund_above_what_is_left_is_refused(sim):
    txn = pay(sim, amount=10000)
    assert refund(sim, "R-1", txn["txn_id"], 7000).status == 201

    answer = refund(sim, "R-2", txn["txn_id"], 3001)

    assert answer.status == 422
    assert "3000" in answer.json()["error"]
    assert refund(sim, "R-3", txn["txn_id"], 3000).status == 201


def test_a_refund_of_an_unknown_transaction_or_a_bad_amount_is_refused(sim):
    txn = pay(sim, amount=10000)

    assert refund(sim, "R-1", "WT00000000000000", 100).status == 404
    assert refund(sim, "R-2", txn["txn_id"], 0).status == 400
    assert refund(sim, "R-3", txn["txn_id"], "100").status == 400


# --- settlement ---------------------------------------------------------------------


def settlement(sim, day) -> list[dict]:
    answer = sim.get(f"/v1/settlement?day={day.isoformat()}")
    assert answer.status == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == "txn_id,reference,amount,paid_at,kind"
    return list(csv.DictReader(io.StringIO(answer.text)))


def row(txn_id, reference, amount, paid_at, kind="payment"):
    return {
        "txn_id": txn_id,
        "reference": reference,
        "amount": str(amount),
        "paid_at": paid_at,
        "kind": kind,
    }


def test_the_settlement_file_lists_the_days_payments_and_refunds(sim):
    one = pay(sim, amount=1000, reference="PAY-1")
    two = pay(sim, amount=2500, reference="PAY-2")
    refunded = refund(sim, "R-1", one["txn_id"], 400).json()
    day = cairo_day(one["paid_at"])

    rows = settlement(sim, day)

    expected = [
        row(one["txn_id"], "PAY-1", 1000, one["paid_at"]),
        row(two["txn_id"], "PAY-2", 2500, two["paid_at"]),
        row(one["txn_id"], "R-1", -400, refunded["refunded_at"], "refund"),
    ]
    # Near Cairo's midnight the three may fall on two days.
    assert rows == [r for r in expected if cairo_day(r["paid_at"]) == day]


def test_the_settlement_file_of_another_day_is_empty(sim):
    txn = pay(sim)
    day = cairo_day(txn["paid_at"])

    assert settlement(sim, day.replace(year=day.year - 1)) == []


def test_the_settlement_file_needs_a_day(sim):
    assert sim.get("/v1/settlement").status == 400
    assert sim.get("/v1/settlement?day=yesterday").status == 400


def test_settlement_mismatches_drop_one_change_one_and_add_a_phantom(sim):
    txns = [pay(sim, amount=1000 * n, reference=f"PAY-{n}") for n in (1, 2, 3)]
    day = cairo_day(txns[0]["paid_at"])
    todays = sorted((t for t in txns if cairo_day(t["paid_at"]) == day), key=lambda t: t["txn_id"])
    sim.post("/v1/faults", {"settlement_mismatches": True})

    rows = settlement(sim, day)

    expected = {}
    for n, txn in enumerate(todays[1:]):
        amount = txn["amount"] + (100 if n == 0 else 0)
        expected[txn["txn_id"]] = row(txn["txn_id"], txn["reference"], amount, txn["paid_at"])
    phantom_id = f"WT{day:%Y%m%d}999999"
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=CAIRO).astimezone(UTC)
    expected[phantom_id] = row(phantom_id, "PHANTOM", 5000, noon.isoformat(timespec="microseconds"))
    assert {r["txn_id"]: r for r in rows} == expected
    assert todays[0]["txn_id"] not in {r["txn_id"] for r in rows}


def test_the_simulator_stops_cleanly_on_sigterm(recorder):
    sim = start("wallet", callback_url=recorder.url)
    sim.stop()

    assert sim.process.returncode == 0


def test_the_callback_gives_up_after_its_retries(recorder):
    recorder.answers = [500] * 10
    with start(
        "wallet", callback_url=recorder.url, callback_retries=2, callback_backoff=0.05
    ) as sim:
        refused = pay(sim, reference="PAY-DOWN")
        recorder.wait_for(3)
        # Its callback comes after any fourth attempt of the first would have.
        recorder.answers = []
        pay(sim, reference="PAY-UP", fault={"delay": 1})

        calls = recorder.wait_for(4)

        assert [p["reference"] for p in payloads(calls)] == ["PAY-DOWN"] * 3 + ["PAY-UP"]
        log = sim.get("/v1/callbacks").json()["callbacks"]
        assert [(c["attempt"], c["status"]) for c in log if c["txn_id"] == refused["txn_id"]] == [
            (1, 500),
            (2, 500),
            (3, 500),
        ]


def test_an_unreachable_app_is_logged_as_an_error(recorder):
    recorder.close()
    with start("wallet", callback_url=recorder.url, callback_retries=0) as sim:
        pay(sim)

        [entry] = wait_until(lambda: sim.get("/v1/callbacks").json()["callbacks"], what="log")

    assert entry["status"] is None
    assert entry["error"]


def test_the_secret_and_merchant_can_come_from_the_environment(monkeypatch, recorder):
    monkeypatch.setenv("WALLET_SIM_SECRET", "from-env")
    monkeypatch.setenv("WALLET_SIM_MERCHANT_ID", "ENVMERCHANT")
    monkeypatch.setenv("WALLET_SIM_CALLBACK_URL", recorder.url)
    with start("wallet") as sim:
        ours = {"qr": qr_payload(100, "P", "ENVMERCHANT"), "wallet": "w"}
        theirs = {"qr": qr_payload(100, "P", "OTHER"), "wallet": "w"}
        assert sim.post("/v1/payments", theirs).status == 400
        assert sim.post("/v1/payments", ours).status == 201

        [call] = recorder.wait_for(1)

    headers = call["headers"]
    verify(
        b"from-env",
        headers["x-wallet-timestamp"],
        headers["x-wallet-signature"],
        call["body"],
        now=time.time(),
    )


def test_a_fault_must_be_a_switch_or_seconds(sim):
    assert sim.post("/v1/faults", {"delay": "soon"}).status == 400
    assert sim.post("/v1/faults", {"delay": -1}).status == 400
    assert sim.get("/v1/faults").json() == {}


def test_it_answers_health_and_refuses_a_wrong_method(sim):
    assert sim.get("/health").json() == {"ok": True}
    answer = sim.delete("/v1/payments")
    assert answer.status == 405
    assert "GET" in answer.headers["Allow"]
    assert sim.get("/v1/nothing").status == 404


def test_the_simulators_log_is_kept_after_it_stops(recorder):
    sim = start("wallet", callback_url=recorder.url)
    sim.get("/health")
    sim.stop()

    assert "listening on" in sim.stderr()
    assert "stopped" in sim.stderr()
