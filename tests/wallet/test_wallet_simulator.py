"""The app against the wallet provider's simulator, a process of its own speaking HTTP.

The simulator calls the app (a live server on the test database) back with
signed callbacks, and answers its status queries; its faults (lost, duplicated,
replayed, badly signed, out of order, paid twice, late) are switched on per
payment. Each test waits for a state (the payment there, the callbacks made),
never for a time.
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from counter.models import Payment
from float_management.verify import ledger_verify
from simulators.testing import start
from tests.factories import wallet_qr
from wallet import services
from wallet.models import WalletIntent, WalletTransaction

SECRET = "simulator-test-secret"
DEADLINE = 20  # seconds: a state the test waits for, on a slow machine


@pytest.fixture
def simulator(live_server, settings):
    settings.WALLET_PROVIDER_SECRET = SECRET
    settings.WALLET_PROVIDER_BACKEND = "wallet.providers.HttpWalletProvider"
    with start(
        "wallet",
        secret=SECRET,
        callback_url=f"{live_server.url}/wallet/callback/",
        merchant_id=settings.WALLET_MERCHANT_ID,
        callback_backoff=0.2,
    ) as sim:
        settings.WALLET_PROVIDER_URL = sim.url
        yield sim


@pytest.fixture
def qr(agent_a, fixed_service, citizen, open_till):
    def make():
        return wallet_qr(agent_a, fixed_service, citizen)

    return make


def _pay(sim, intent, **fault):
    body = {"qr": intent.payload, "wallet": "201000000001"}
    if fault:
        body["fault"] = fault
    answer = sim.post("/v1/payments", body)
    assert answer.status == 201, answer.text
    return answer.json()


def _until(condition, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached in {DEADLINE} s: {what}")


def _callbacks(sim, txn_id):
    return [c for c in sim.get("/v1/callbacks").json()["callbacks"] if c.get("txn_id") == txn_id]


def _settled(sim, txn_id, count):
    """The simulator has had its `count` callbacks of `txn_id` answered (or given up)."""
    return _until(
        lambda: len([c for c in _callbacks(sim, txn_id) if c.get("status")]) >= count and True,
        f"{count} callbacks of {txn_id} answered",
    )


def test_the_callback_pays_the_qr(simulator, qr):
    intent = qr()
    txn = _pay(simulator, intent)

    payment = _until(lambda: Payment.objects.filter(reference=intent.reference).first(), "paid")
    assert (payment.method, payment.external_reference, payment.total) == (
        "wallet",
        txn["txn_id"],
        intent.total,
    )
    assert WalletTransaction.objects.get().via == "callback"
    assert ledger_verify().ok


def test_a_duplicated_callback_is_one_payment(simulator, qr):
    intent = qr()
    txn = _pay(simulator, intent, duplicate=True)
    _settled(simulator, txn["txn_id"], 2)

    assert [c["status"] for c in _callbacks(simulator, txn["txn_id"])] == [200, 200]
    assert Payment.objects.filter(reference=intent.reference).count() == 1
    assert WalletTransaction.objects.count() == 1


def test_a_replayed_callback_is_refused(simulator, qr):
    intent = qr()
    txn = _pay(simulator, intent, replay=0.2)
    _until(
        lambda: [c.get("status") for c in _callbacks(simulator, txn["txn_id"])] == [200, 403],
        "the original answered 200 and its replay 403",
    )
    assert Payment.objects.filter(reference=intent.reference).count() == 1


def test_a_badly_signed_callback_is_refused_and_the_status_query_finds_the_money(simulator, qr):
    intent = qr()
    txn = _pay(simulator, intent, bad_signature=True)
    _settled(simulator, txn["txn_id"], 1)
    assert {c["status"] for c in _callbacks(simulator, txn["txn_id"])} == {401}
    assert not Payment.objects.exists()

    found = services.intents_query(older_than=0, now=timezone.now() + timedelta(seconds=1))

    assert found == 1
    payment = Payment.objects.get(reference=intent.reference)
    assert payment.external_reference == txn["txn_id"]
    assert WalletTransaction.objects.get().via == "status"


def test_a_lost_callback_is_found_by_the_status_query(simulator, qr):
    intent = qr()
    txn = _pay(simulator, intent, lost=True)
    assert _callbacks(simulator, txn["txn_id"]) == []

    services.intents_query(older_than=0, now=timezone.now() + timedelta(seconds=1))

    assert Payment.objects.get(reference=intent.reference).external_reference == txn["txn_id"]


def test_a_late_callback_after_the_status_query_changes_nothing(simulator, qr):
    intent = qr()
    txn = _pay(simulator, intent, delay=1)
    services.intents_query(older_than=0, now=timezone.now() + timedelta(seconds=1))
    assert Payment.objects.filter(reference=intent.reference).count() == 1

    _settled(simulator, txn["txn_id"], 1)
    assert [c["status"] for c in _callbacks(simulator, txn["txn_id"])] == [200]
    assert Payment.objects.count() == 1 and WalletTransaction.objects.count() == 1


def test_paid_twice_is_one_payment_and_one_refund_due(simulator, qr):
    intent = qr()
    _pay(simulator, intent, pay_twice=True)

    _until(lambda: WalletTransaction.objects.count() == 2, "both transactions")
    assert Payment.objects.count() == 1
    assert sorted(WalletTransaction.objects.values_list("status", "reason")) == [
        ("applied", ""),
        ("refund_due", "twice"),
    ]
    assert ledger_verify().ok


def test_paid_after_the_qr_expired_goes_to_the_refund_queue(simulator, qr):
    intent = qr()
    WalletIntent.objects.filter(pk=intent.pk).update(expires_at=timezone.now())
    _pay(simulator, intent)

    txn = _until(lambda: WalletTransaction.objects.first(), "the late money")
    assert (txn.status, txn.reason) == ("refund_due", "expired")
    assert not Payment.objects.exists()


def test_callbacks_out_of_order_pay_each_its_own_qr(simulator, qr):
    first, second = qr(), qr()
    held = _pay(simulator, first, out_of_order=True)
    _pay(simulator, second)

    _until(lambda: Payment.objects.count() == 2, "both paid")
    assert Payment.objects.get(reference=first.reference).external_reference == held["txn_id"]
    order = [c["txn_id"] for c in simulator.get("/v1/callbacks").json()["callbacks"]]
    assert order.index(held["txn_id"]) > 0  # the first payment's callback came second


def test_a_refund_is_sent_to_the_provider_and_is_in_its_file(
    simulator, qr, supervisor_a, django_capture_on_commit_callbacks
):
    intent = qr()
    _pay(simulator, intent, pay_twice=True)
    _until(lambda: WalletTransaction.objects.count() == 2, "both transactions")
    extra = WalletTransaction.objects.get(status="refund_due")

    with django_capture_on_commit_callbacks(execute=True):
        services.refund_approve(supervisor=supervisor_a, txn=extra)

    extra.refresh_from_db()
    assert extra.status == "refunded"
    day = timezone.localdate()
    rows = simulator.get(f"/v1/settlement?day={day.isoformat()}").text.splitlines()
    assert f"{extra.txn_id},{extra.refund_id},-{extra.amount}" in "\n".join(rows)
    assert ledger_verify().ok
