"""The agencies' outbox delivered: each rule of agencies.outbox against a scripted agency.

Each test posts real payments of an integrated service (the notification is written in
the payment's transaction), then runs passes of the worker with a clock of its own.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from agencies import outbox
from agencies.adapters import Ack
from agencies.models import Notification, NotificationKind
from agencies.outbox import backoff, notifications_deliver
from agencies.services import integrations_cache_clear, notifications_wake
from agencies.signals import payment_refused
from counter.services.payments import void_request
from float_management.services import request_decide
from simulators.testing import start
from tests.agencies.conftest import answer, drop
from tools.bench.agencies import AGENCY_CODE, integrated_world, pay, simulator_bill, systems


@pytest.fixture(autouse=True)
def _forget_integrations():
    # The integrations are cached a minute by service id, and ids come back after a rollback.
    integrations_cache_clear()
    yield
    integrations_cache_clear()


@pytest.fixture
def world(db):
    return integrated_world()


@pytest.fixture
def scripted(settings, agency):
    settings.AGENCY_SYSTEMS = systems(agency.url, timeout=1.0, inquiry_ceiling=1.0, retries=0)
    return agency


def accepted(payment, txn="AG000000000001", status="accepted"):
    return answer(
        200, {"status": status, "agency_txn_id": txn, "payment_reference": payment.reference}
    )


def notification(payment, kind=NotificationKind.PAYMENT) -> Notification:
    return Notification.objects.get(payment=payment, kind=kind)


def void(world, payment):
    request = void_request(
        agent=world.agent, payment=payment, reason="wrong bill", idempotency_key=uuid.uuid4().hex
    )
    request_decide(request=request, supervisor=world.supervisor, approve=True)


def calls(agency) -> list[str]:
    return [f"{seen.method} {seen.path}" for seen in agency.requests]


def test_a_payment_writes_its_notification_in_its_own_transaction(world):
    payment = pay(world, 1)

    row = notification(payment)
    assert (row.status, row.attempts, row.agency.code) == ("pending", 0, AGENCY_CODE)
    assert row.created_at == payment.created_at


def test_an_acknowledged_payment_is_recorded_once_with_the_agencys_id(world, scripted):
    payment = pay(world, 1)
    scripted.script(accepted(payment))

    assert notifications_deliver() == {"claimed": 1, "acknowledged": 1}
    row = notification(payment)
    assert (row.status, row.agency_txn_id, row.attempts) == ("acknowledged", "AG000000000001", 1)
    assert row.acknowledged_at is not None
    account, bill, amount = simulator_bill(1)
    sent = scripted.requests[0].json()
    assert sent["payment_reference"] == payment.reference
    assert (sent["reference"], sent["bill_ids"], sent["amount"]) == (account, [bill], amount)

    later = timezone.now() + timedelta(hours=1)
    assert notifications_deliver(now=later) == {"claimed": 0}
    assert len(scripted.requests) == 1


def test_an_agency_that_applied_nothing_is_asked_again_after_a_backoff(world, scripted):
    payment = pay(world, 1)
    scripted.script(answer(503, {"error": "down"}), accepted(payment))
    now = timezone.now()

    assert notifications_deliver(now=now) == {"claimed": 1, "retry": 1}
    row = notification(payment)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "503" in row.last_error
    assert now + timedelta(seconds=0.5) <= row.next_attempt_at <= now + timedelta(seconds=1)

    assert notifications_deliver(now=now + timedelta(seconds=0.4)) == {"claimed": 0}
    assert notifications_deliver(now=now + timedelta(seconds=2)) == {
        "claimed": 1,
        "acknowledged": 1,
    }
    assert calls(scripted) == ["POST /v1/payments"] * 2


def test_the_backoff_doubles_with_jitter_up_to_its_cap():
    for attempts in range(1, 30):
        ceiling = min(outbox.BACKOFF_CAP, outbox.BACKOFF_FIRST * 2 ** (attempts - 1))
        delays = [backoff(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert max(backoff(40) for _ in range(50)) <= 300
    assert len({backoff(3) for _ in range(20)}) > 1  # jittered, not in lockstep


def test_an_open_circuit_waits_at_least_its_cool_off(world, scripted, settings):
    settings.AGENCY_SYSTEMS[AGENCY_CODE].update(breaker_failures=1, breaker_cool_off=30.0)
    first, second = pay(world, 1), pay(world, 2)
    scripted.script(answer(503))
    now = timezone.now()

    assert notifications_deliver(now=now) == {"claimed": 2, "retry": 1, "circuit_open": 1}
    assert len(scripted.requests) == 1  # the second found the circuit open: not even asked
    assert now + timedelta(seconds=29) <= notification(second).next_attempt_at
    assert notification(second).next_attempt_at <= now + timedelta(seconds=46)
    assert (notification(first).attempts, notification(second).attempts) == (1, 0)
    assert notification(first).next_attempt_at <= now + timedelta(seconds=1)


def test_an_answer_lost_is_unknown_and_resolved_by_the_status_query_not_by_sending(world, scripted):
    payment = pay(world, 1)
    scripted.script(drop(), accepted(payment, txn="AG000000000777"))
    now = timezone.now()

    assert notifications_deliver(now=now) == {"claimed": 1, "unknown": 1}
    row = notification(payment)
    assert (row.status, row.attempts, row.acknowledged_at) == ("unknown", 1, None)

    assert notifications_deliver(now=now + timedelta(seconds=2)) == {
        "claimed": 1,
        "acknowledged": 1,
    }
    assert calls(scripted) == ["POST /v1/payments", f"GET /v1/payments/{payment.reference}"]
    assert notification(payment).agency_txn_id == "AG000000000777"


def test_an_unknown_outcome_the_agency_has_no_record_of_is_sent_again(world, scripted):
    payment = pay(world, 1)
    scripted.script(drop(), answer(404, {"status": "unknown"}), accepted(payment))
    now = timezone.now()
    notifications_deliver(now=now)

    assert notifications_deliver(now=now + timedelta(seconds=2)) == {
        "claimed": 1,
        "not_applied": 1,
    }
    assert notification(payment).status == "pending"
    assert notifications_deliver(now=now + timedelta(seconds=2)) == {
        "claimed": 1,
        "acknowledged": 1,
    }
    assert calls(scripted) == [
        "POST /v1/payments",
        f"GET /v1/payments/{payment.reference}",
        "POST /v1/payments",
    ]


def test_an_unknown_outcome_stays_unknown_while_the_agency_cannot_say(world, scripted):
    payment = pay(world, 1)
    scripted.script(drop(), answer(503), answer(400, {"error": "bad"}))
    now = timezone.now()
    notifications_deliver(now=now)

    for step in (1, 2):
        at = now + timedelta(minutes=10 * step)
        assert notifications_deliver(now=at) == {"claimed": 1, "retry": 1}
        row = notification(payment)
        assert (row.status, row.attempts) == ("unknown", 1 + step)
        assert row.next_attempt_at > at
    assert [seen.method for seen in scripted.requests] == ["POST", "GET", "GET"]


def test_a_payment_refused_for_good_is_refused_and_announced_in_its_transaction(world, scripted):
    payment = pay(world, 1)
    scripted.script(answer(409, {"error": "bill_already_paid"}))
    heard = []

    def receiver(sender, notification, code, **kwargs):
        heard.append((notification.pk, notification.status, code, connection.in_atomic_block))

    payment_refused.connect(receiver, dispatch_uid="test-outbox")
    try:
        assert notifications_deliver() == {"claimed": 1, "refused": 1}
    finally:
        payment_refused.disconnect(dispatch_uid="test-outbox")
    row = notification(payment)
    assert row.status == "refused"
    assert "bill_already_paid" in row.last_error
    assert heard == [(row.pk, "refused", "bill_already_paid", True)]
    assert notifications_deliver(now=timezone.now() + timedelta(hours=1)) == {"claimed": 0}


def test_a_refusal_whose_receiver_fails_is_not_recorded_and_comes_back(world, scripted):
    payment = pay(world, 1)
    scripted.script(answer(409, {"error": "bill_changed"}))

    def receiver(**kwargs):
        raise RuntimeError("the refund could not open")

    payment_refused.connect(receiver, dispatch_uid="test-outbox-fails")
    try:
        now = timezone.now()
        assert notifications_deliver(now=now) == {"claimed": 1, "failed": 1}
    finally:
        payment_refused.disconnect(dispatch_uid="test-outbox-fails")
    assert notification(payment).status == "pending"
    assert notifications_deliver(now=now + timedelta(seconds=61)) == {"claimed": 1, "refused": 1}


def test_a_void_waits_until_its_payment_is_acknowledged(world, scripted):
    payment = pay(world, 1)
    void(world, payment)
    scripted.script(answer(503), accepted(payment), answer(200, {"status": "voided"}))
    now = timezone.now()

    assert notifications_deliver(now=now) == {"claimed": 1, "retry": 1}
    assert notifications_deliver(now=now + timedelta(seconds=2)) == {
        "claimed": 1,
        "acknowledged": 1,
    }
    assert notifications_deliver(now=now + timedelta(seconds=2)) == {
        "claimed": 1,
        "acknowledged": 1,
    }
    assert calls(scripted) == [
        "POST /v1/payments",
        "POST /v1/payments",
        f"POST /v1/payments/{payment.reference}/void",
    ]
    assert scripted.requests[-1].json() == {"reason": "wrong bill"}
    row = notification(payment, NotificationKind.VOID)
    assert (row.status, row.agency_txn_id) == ("acknowledged", "AG000000000001")


def test_a_void_waits_while_its_payments_outcome_is_unknown(world, scripted):
    payment = pay(world, 1)
    void(world, payment)
    scripted.script(drop(), accepted(payment), answer(200, {"status": "voided"}))
    now = timezone.now()

    assert notifications_deliver(now=now) == {"claimed": 1, "unknown": 1}
    assert notification(payment, NotificationKind.VOID).status == "pending"
    assert notifications_deliver(now=now + timedelta(seconds=2))["acknowledged"] == 1
    assert notifications_deliver(now=now + timedelta(seconds=2))["acknowledged"] == 1
    assert [seen.method for seen in scripted.requests] == ["POST", "GET", "POST"]


def test_a_void_of_a_refused_payment_is_closed_without_a_call_or_a_refund(world, scripted):
    payment = pay(world, 1)
    void(world, payment)
    scripted.script(answer(409, {"error": "bill_already_paid"}))
    heard = []
    payment_refused.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t-void")
    try:
        assert notifications_deliver()["refused"] == 1
        assert notifications_deliver()["refused"] == 1
    finally:
        payment_refused.disconnect(dispatch_uid="t-void")
    assert heard == []  # the void gave the citizen's money back already
    row = notification(payment, NotificationKind.VOID)
    assert row.status == "refused"
    assert "nothing to void" in row.last_error
    assert len(scripted.requests) == 1


def test_a_void_whose_answer_is_lost_is_resolved_by_the_status_query(world, scripted):
    payment = pay(world, 1)
    void(world, payment)
    scripted.script(accepted(payment), drop(), accepted(payment, status="voided"), answer(200, {}))
    now = timezone.now()
    notifications_deliver(now=now)

    assert notifications_deliver(now=now)["unknown"] == 1
    assert notifications_deliver(now=now + timedelta(seconds=2))["acknowledged"] == 1
    assert [seen.method for seen in scripted.requests] == ["POST", "POST", "GET"]


def test_an_outcome_from_a_lost_lease_is_not_recorded(world, monkeypatch):
    payment = pay(world, 1)
    retaken = timezone.now() + timedelta(minutes=5)

    class SlowWorker:
        """Its call outlived the lease: another worker claimed the row meanwhile."""

        def notify_payment(self, notify):
            Notification.objects.filter(payment=payment).update(next_attempt_at=retaken)
            return Ack(agency_txn_id="AG-LATE")

    monkeypatch.setattr(outbox, "adapter_for", lambda code: SlowWorker())

    assert notifications_deliver() == {"claimed": 1, "lease_lost": 1}
    row = notification(payment)
    assert (row.status, row.next_attempt_at, row.agency_txn_id) == ("pending", retaken, "")


def test_a_notification_of_an_agency_with_no_system_waits(world, settings):
    settings.AGENCY_SYSTEMS = {}
    payment = pay(world, 1)

    assert notifications_deliver() == {"claimed": 1, "retry": 1}
    assert notification(payment).last_error == "no system configured"


def test_the_claim_and_the_record_are_a_handful_of_queries(
    world, scripted, django_assert_num_queries
):
    payments = [pay(world, n) for n in range(5)]
    scripted.script(*[accepted(payment) for payment in payments])
    # The claim: its ids and lease in a transaction (2, and 2 for the savepoint here), the
    # rows with their payments, lines and components (3); then each outcome's guarded UPDATE.
    with django_assert_num_queries(2 + 2 + 3 + 5):
        assert notifications_deliver()["acknowledged"] == 5


def test_the_worker_command_delivers_a_pass(world, scripted, monkeypatch):
    from agencies.management.commands import agency_worker

    # Between passes it closes stale connections: the test's own would be one of them.
    monkeypatch.setattr(agency_worker, "close_old_connections", lambda: None)
    payment = pay(world, 1)
    scripted.script(accepted(payment))

    call_command("agency_worker", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert notification(payment).status == "acknowledged"


# --- PostgreSQL: several workers, one queue ----------------------------------------------


@pytest.fixture
def simulator(settings, tmp_path):
    with start("agency", agency=AGENCY_CODE, state=str(tmp_path / "agency.json")) as sim:
        settings.AGENCY_SYSTEMS = systems(sim.url, timeout=5.0)
        yield sim


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_deliver_a_notification_twice(simulator):
    world = integrated_world()
    payments = [pay(world, n) for n in range(60)]
    sent: list[str] = []
    real_adapter_for = outbox.adapter_for

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def notify_payment(self, notify):
            sent.append(notify.payment_reference)
            return self.inner.notify_payment(notify)

    outbox_adapter = outbox.adapter_for
    outbox.adapter_for = lambda code: Counting(real_adapter_for(code))
    errors = []

    def work():
        try:
            while notifications_deliver(batch=6, threads=3)["claimed"]:
                pass
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        outbox.adapter_for = outbox_adapter

    assert errors == []
    assert sorted(sent) == sorted(payment.reference for payment in payments)
    acknowledged = Notification.objects.filter(status="acknowledged")
    assert acknowledged.count() == 60
    assert acknowledged.values("agency_txn_id").distinct().count() == 60
    stats = simulator.get("/v1/stats").json()
    assert (stats["payments_accepted"], stats["duplicates"]) == (60, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_committed_payment_wakes_a_listening_worker():
    from agencies.management.commands.agency_worker import Listener

    listener = Listener()
    try:
        assert listener.wait(0.01) is False  # now listening
        with transaction.atomic():
            transaction.on_commit(notifications_wake)
        assert listener.wait(5) is True
        for _ in range(3):  # a burst of commits while the worker is busy with a pass
            with transaction.atomic():
                transaction.on_commit(notifications_wake)
        time.sleep(0.5)
        assert listener.wait(5) is True
        assert listener.wait(0.2) is False  # the burst was read as one wake
    finally:
        listener.close()


def test_a_request_s_fee_names_no_bill_and_the_real_agency_acknowledges_it(
    world, settings, tmp_path
):
    """A fee for a request (a cemetery plot): its reference alone, no bill to settle."""
    from agencies.models import Integration
    from counter.models import ReferenceField
    from counter.services.catalog import catalog_cache_clear
    from counter.services.payments import payment_post_cash

    Integration.objects.filter(service=world.service).update(opens_request=True)
    ReferenceField.objects.filter(service=world.service, code="bill").update(required=False)
    integrations_cache_clear()
    catalog_cache_clear()
    payment = payment_post_cash(
        agent=world.agent,
        service=world.service,
        citizen=None,
        amount=51_500,
        references={"account": "20261201"},
        tendered=60_000,
        idempotency_key=uuid.uuid4().hex,
    )
    with start("agency", agency=AGENCY_CODE, state=str(tmp_path / "a.json")) as sim:
        settings.AGENCY_SYSTEMS = systems(sim.url, timeout=2.0, inquiry_ceiling=2.0, retries=0)
        assert notifications_deliver() == {"claimed": 1, "acknowledged": 1}
        held = sim.get(f"/v1/payments/{payment.reference}").json()
    assert (held["reference"], held["bill_ids"], held["amount"]) == ("20261201", [], 51_500)
    assert notification(payment).status == "acknowledged"


def test_each_outcome_tells_the_boards_once_it_is_committed(
    world, scripted, django_capture_on_commit_callbacks
):
    from agencies.signals import notification_changed

    payment = pay(world, 1)
    scripted.script(accepted(payment))
    told = []

    def receiver(sender, notification, **kwargs):
        told.append((notification.pk, Notification.objects.get(pk=notification.pk).status))

    notification_changed.connect(receiver, dispatch_uid="test-told")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            notifications_deliver()
    finally:
        notification_changed.disconnect(dispatch_uid="test-told")
    assert told == [(notification(payment).pk, "acknowledged")]
