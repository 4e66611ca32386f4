"""The wallet method in the app: the QR, the money arriving once, refunds, the callback.

The provider is the in-memory fake here (tests/wallet/fakes.py); the tests
against the simulator's own process are in test_wallet_simulator.py.
"""

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from core.errors import InvalidState
from core.signing import sign
from counter.models import Payment
from counter.services import payments as payment_services
from float_management.models import Account, Request, RequestKind
from float_management.services import request_decide
from float_management.verify import ledger_verify
from receipts.models import Receipt, ReceiptPrint
from tests.counter.test_payment_views import _pay_data
from tests.factories import wallet_qr
from tests.wallet import fakes
from wallet import emvco, services
from wallet.models import IntentStatus, WalletIntent, WalletTransaction
from wallet.providers import ProviderPayment

TOTAL = 5_450  # fixed_service: 50.00 + 3.00 + 1.50
SECRET = "test-wallet-secret"


@pytest.fixture(autouse=True)
def _fake_provider(settings):
    settings.WALLET_PROVIDER_BACKEND = "tests.wallet.fakes.FakeWallet"
    settings.WALLET_PROVIDER_SECRET = SECRET
    fakes.reset()
    yield
    fakes.reset()


@pytest.fixture
def intent(agent_a, fixed_service, citizen, open_till):
    return wallet_qr(agent_a, fixed_service, citizen)


def _arrive(intent, *, txn_id="WT1", amount=TOTAL, paid_at=None, reference=None):
    return services.money_arrived(
        txn_id=txn_id,
        reference=reference or intent.reference,
        amount=amount,
        paid_at=paid_at or timezone.now(),
        via="callback",
    )


def test_the_pay_form_shows_the_qr_of_the_exact_total(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    response = client.post(url, {**_pay_data(citizen, method="wallet"), "confirm": "direct"})

    intent = WalletIntent.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("wallet:qr", args=[intent.reference])
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    qr = emvco.parse(intent.payload)
    assert (qr.amount_piastres, qr.reference, qr.terminal_id) == (
        TOTAL,
        intent.reference,
        "A0001-01",
    )
    assert not Payment.objects.exists()  # nothing is paid until the provider says so


def test_a_reload_of_the_form_shows_the_same_qr(client, agent_a, fixed_service, citizen, open_till):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    data = {**_pay_data(citizen, method="wallet"), "confirm": "direct"}
    first, again = client.post(url, data), client.post(url, data)
    assert first["Location"] == again["Location"]
    assert WalletIntent.objects.count() == 1


def test_the_money_pays_the_payment_into_clearing_and_the_till_is_untouched(
    intent, open_till, branch_a
):
    till = Account.objects.get(pk=open_till.account_id).balance

    txn = _arrive(intent)

    payment = Payment.objects.get()
    assert txn.status == "applied" and txn.payment == payment
    assert (payment.method, payment.reference, payment.external_reference, payment.total) == (
        "wallet",
        intent.reference,
        "WT1",
        TOTAL,
    )
    assert Account.objects.get(pk=open_till.account_id).balance == till
    assert Account.objects.get(key=f"clearing:wallet:{branch_a.code}").balance == TOTAL
    intent.refresh_from_db()
    assert intent.status == IntentStatus.PAID and intent.payment == payment
    assert ledger_verify().ok


def test_the_same_transaction_twice_is_one_payment(intent):
    first = _arrive(intent)
    again = _arrive(intent)
    assert again.pk == first.pk
    assert Payment.objects.count() == 1 and WalletTransaction.objects.count() == 1


def test_paid_twice_the_second_is_held_to_refund(intent, branch_a):
    _arrive(intent, txn_id="WT1")
    second = _arrive(intent, txn_id="WT2")

    assert (second.status, second.reason) == ("refund_due", "twice")
    assert second.held_transfer is not None
    assert Payment.objects.count() == 1
    assert Account.objects.get(key=f"refund_due:wallet:{branch_a.code}").balance == TOTAL
    assert Account.objects.get(key=f"clearing:wallet:{branch_a.code}").balance == 2 * TOTAL
    assert ledger_verify().ok


def test_paid_after_the_qr_expired_is_held_to_refund(intent):
    late = _arrive(intent, paid_at=intent.expires_at + timedelta(seconds=1))
    assert (late.status, late.reason) == ("refund_due", "expired")
    intent.refresh_from_db()
    assert intent.status == IntentStatus.EXPIRED
    assert not Payment.objects.exists()


def test_a_different_amount_is_held_to_refund(intent):
    txn = _arrive(intent, amount=TOTAL - 1)
    assert (txn.status, txn.reason) == ("refund_due", "amount")
    assert not Payment.objects.exists()


def test_money_for_a_qr_we_never_made_waits_for_head_office(intent):
    txn = _arrive(intent, reference="999999999999")
    assert (txn.status, txn.reason, txn.held_transfer) == ("refund_due", "unknown", None)


def test_a_cancelled_qr_paid_later_is_refunded(intent, agent_a):
    services.intent_cancel(agent=agent_a, intent=intent)
    txn = _arrive(intent)
    assert (txn.status, txn.reason) == ("refund_due", "expired")


def test_the_status_query_finds_a_payment_whose_callback_was_lost(intent):
    fakes.PAID[intent.reference] = [
        ProviderPayment("WT9", intent.reference, TOTAL, timezone.now(), "0100")
    ]
    later = timezone.now() + timedelta(seconds=5)

    assert services.intents_query(older_than=3, now=later) == 1

    payment = Payment.objects.get()
    assert payment.external_reference == "WT9"
    assert WalletTransaction.objects.get().via == "status"
    # Asked again at once: nothing more (not asked twice within the interval, nothing new).
    assert services.intents_query(older_than=3, now=later) == 0
    assert Payment.objects.count() == 1


def test_the_status_query_waits_for_the_callback_first(intent):
    fakes.PAID[intent.reference] = [
        ProviderPayment("WT9", intent.reference, TOTAL, timezone.now(), "0100")
    ]
    assert services.intents_query(older_than=3, now=timezone.now()) == 0
    assert not Payment.objects.exists()


def test_a_refund_is_approved_by_a_supervisor_and_sent_to_the_provider(
    intent, supervisor_a, branch_a, django_capture_on_commit_callbacks
):
    _arrive(intent, txn_id="WT1")
    second = _arrive(intent, txn_id="WT2")

    with django_capture_on_commit_callbacks(execute=True):
        services.refund_approve(supervisor=supervisor_a, txn=second)

    second.refresh_from_db()
    assert second.status == "refunded" and second.refund_transfer is not None
    assert fakes.REFUNDS[second.refund_id].txn_id == "WT2"
    assert Account.objects.get(key=f"refund_due:wallet:{branch_a.code}").balance == 0
    assert Account.objects.get(key=f"clearing:wallet:{branch_a.code}").balance == TOTAL
    assert ledger_verify().ok


def test_a_refund_the_provider_cannot_take_now_is_sent_by_the_worker_later(intent, supervisor_a):
    _arrive(intent, txn_id="WT1")
    second = _arrive(intent, txn_id="WT2")
    fakes.DOWN[0] = True
    services.refund_approve(supervisor=supervisor_a, txn=second)
    second.refresh_from_db()
    assert second.status == "refund_due" and second.refund_approved_by == supervisor_a

    fakes.DOWN[0] = False
    assert services.refunds_send_due() == 1
    second.refresh_from_db()
    assert second.status == "refunded"


def test_the_agent_who_showed_the_qr_cannot_approve_its_refund(intent, agent_a):
    _arrive(intent, txn_id="WT1")
    second = _arrive(intent, txn_id="WT2")
    with override("en"), pytest.raises(InvalidState, match="cannot approve its refund"):
        services.refund_approve(supervisor=agent_a, txn=second)
    second.refresh_from_db()
    assert second.refund_approved_by is None


def test_a_void_of_a_wallet_payment_is_a_refund_through_the_provider(
    intent, agent_a, supervisor_a, branch_a, django_capture_on_commit_callbacks
):
    _arrive(intent)
    payment = Payment.objects.get()
    payment_services.void_request(
        agent=agent_a, payment=payment, reason="wrong service", idempotency_key=uuid.uuid4().hex
    )
    with django_capture_on_commit_callbacks(execute=True):
        request_decide(
            request=Request.objects.get(kind=RequestKind.VOID),
            supervisor=supervisor_a,
            approve=True,
        )

    txn = WalletTransaction.objects.get()
    assert (txn.status, txn.reason) == ("refunded", "voided")
    assert fakes.REFUNDS[txn.refund_id].amount == TOTAL
    assert Account.objects.get(key=f"clearing:wallet:{branch_a.code}").balance == 0
    assert Account.objects.get(key=f"refund_due:wallet:{branch_a.code}").balance == 0
    assert ledger_verify().ok


# --- The callback ------------------------------------------------------------------------


def _callback(client, intent, *, txn_id="WT1", secret=SECRET, timestamp=None, body=None):
    body = (
        body
        or json.dumps(
            {
                "event": "payment.paid",
                "txn_id": txn_id,
                "reference": intent.reference,
                "amount": TOTAL,
                "currency": "818",
                "paid_at": timezone.now().isoformat(),
            }
        ).encode()
    )
    timestamp = int(time.time()) if timestamp is None else timestamp
    return client.post(
        reverse("wallet:callback"),
        body,
        content_type="application/json",
        headers={
            "X-Wallet-Timestamp": str(timestamp),
            "X-Wallet-Signature": sign(secret.encode(), timestamp, body),
        },
    )


def test_a_signed_callback_pays_the_qr(client, intent):
    response = _callback(client, intent)
    assert response.status_code == 200
    assert response.json()["status"] == "applied"
    assert Payment.objects.get().external_reference == "WT1"


def test_a_callback_with_a_wrong_signature_is_refused_and_changes_nothing(client, intent):
    response = _callback(client, intent, secret="not-the-secret")
    assert response.status_code == 401
    assert not Payment.objects.exists() and not WalletTransaction.objects.exists()


def test_an_old_callback_is_refused(client, intent):
    response = _callback(client, intent, timestamp=int(time.time()) - 3600)
    assert response.status_code == 401
    assert not Payment.objects.exists()


def test_a_replayed_callback_is_refused_and_a_duplicate_is_one_payment(client, intent):
    timestamp = int(time.time())
    body = json.dumps(
        {
            "txn_id": "WT1",
            "reference": intent.reference,
            "amount": TOTAL,
            "paid_at": timezone.now().isoformat(),
        }
    ).encode()
    first = _callback(client, intent, timestamp=timestamp, body=body)
    replay = _callback(client, intent, timestamp=timestamp, body=body)
    duplicate = _callback(client, intent, timestamp=timestamp + 1, body=body)

    assert [first.status_code, replay.status_code, duplicate.status_code] == [200, 403, 200]
    assert Payment.objects.count() == 1


def test_a_replay_in_capitals_is_still_a_replay(client, intent):
    timestamp = int(time.time())
    body = json.dumps(
        {
            "txn_id": "WT1",
            "reference": intent.reference,
            "amount": TOTAL,
            "paid_at": timezone.now().isoformat(),
        }
    ).encode()
    assert _callback(client, intent, timestamp=timestamp, body=body).status_code == 200
    replay = client.post(
        reverse("wallet:callback"),
        body,
        content_type="application/json",
        headers={
            "X-Wallet-Timestamp": str(timestamp),
            "X-Wallet-Signature": sign(SECRET.encode(), timestamp, body).upper(),
        },
    )
    assert replay.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"txn_id": "WT1", "reference": "1", "amount": "54.50", "paid_at": "2026-12-01"}',
        b'{"txn_id": "WT1", "reference": "1", "amount": 5450, "paid_at": "yesterday"}',
        b'{"txn_id": "WT1", "reference": "1", "amount": 5450, "paid_at": "2026-12-01T10:00:00"}',
        b'{"txn_id": "", "reference": "1", "amount": 5450, "paid_at": "2026-12-01T10:00:00Z"}',
        b'{"txn_id": "WT1", "reference": "1", "amount": -5, "paid_at": "2026-12-01T10:00:00Z"}',
    ],
)
def test_a_malformed_callback_is_a_clear_400(client, intent, body):
    response = _callback(client, intent, body=body)
    assert response.status_code == 400
    assert "bad callback" in response.json()["error"]
    assert not WalletTransaction.objects.exists()


def test_the_qr_status_flips_to_paid_and_prints_the_receipt(client, agent_a, intent):
    client.force_login(agent_a)
    waiting = client.get(reverse("wallet:qr_status", args=[intent.reference]))
    assert 'id="wallet-waiting"' in waiting.content.decode()
    assert "hx-trigger" in waiting.content.decode()

    _arrive(intent)
    paid = client.get(reverse("wallet:qr_status", args=[intent.reference])).content.decode()
    assert 'id="wallet-paid"' in paid and "WT1" in paid and "hx-trigger" not in paid

    printed = client.post(reverse("wallet:qr_print", args=[intent.reference]))
    assert printed.status_code == 200
    receipt = Receipt.objects.get(reference=intent.reference)
    assert receipt.original_printed_at is not None
    again = client.post(reverse("wallet:qr_print", args=[intent.reference]))
    assert again.status_code in (200, 302)
    assert ReceiptPrint.objects.filter(receipt=receipt).count() == 1  # the original, once


def test_another_agents_qr_is_not_found(client, agent_b, intent):
    client.force_login(agent_b)
    assert client.get(reverse("wallet:qr", args=[intent.reference])).status_code == 404
    assert client.get(reverse("wallet:qr_status", args=[intent.reference])).status_code == 404


def test_the_refund_queue_is_the_supervisors(client, intent, supervisor_a, agent_a, supervisor_b):
    _arrive(intent, txn_id="WT1")
    second = _arrive(intent, txn_id="WT2")
    client.force_login(supervisor_a)
    page = client.get(reverse("wallet:refunds")).content.decode()
    assert "WT2" in page and "WT1" not in page

    client.force_login(supervisor_b)
    assert "WT2" not in client.get(reverse("wallet:refunds")).content.decode()
    response = client.post(reverse("wallet:refund_approve", args=[second.pk]))
    assert response.status_code == 404

    client.force_login(agent_a)
    assert client.get(reverse("wallet:refunds")).status_code in (403, 404)


def test_the_citizens_screen_shows_the_qr_and_then_that_it_is_paid(client, agent_a, intent):
    client.force_login(agent_a)
    url = reverse("wallet:qr_citizen", args=[intent.reference])
    page = client.get(url).content.decode()
    assert "<svg" in page and 'id="citizen-waiting"' in page
    assert reverse("wallet:qr_cancel", args=[intent.reference]) not in page  # no controls

    _arrive(intent)
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="citizen-paid"' in fragment and "<svg" not in fragment
