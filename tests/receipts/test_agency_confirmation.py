"""An integrated service's receipt says whether the agency's system has confirmed the payment.

The cash is in the till either way: the printed receipt says plainly when the agency
has not confirmed yet, and the verification page (/r/…) shows what it says later,
with a request's current status when the service opens one.
"""

import uuid

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from agencies.models import (
    Integration,
    Notification,
    NotificationStatus,
    RequestStatus,
    ServiceRequest,
)
from agencies.services import integrations_cache_clear
from counter.services import payments
from receipts import selectors
from receipts.arabic import register_fonts, visual
from receipts.pdf.layout import LAYOUTS, _Line
from receipts.pdf.sections import compose
from receipts.tokens import token_for


@pytest.fixture(autouse=True)
def _integrations_forgotten():
    # The integrations are cached per process; a test's rolled-back rows must not linger.
    integrations_cache_clear()
    yield
    integrations_cache_clear()


@pytest.fixture
def integration(fixed_service):
    return Integration.objects.create(service=fixed_service, inquire_first=False)


@pytest.fixture
def paid(integration, agent_a, fixed_service, citizen, open_till):
    return payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )


def _data(payment, verify_url="http://testserver/r/x"):
    return selectors.payment_receipt_data(
        payment, kind="payment", reference=payment.reference, copy_number=0, verify_url=verify_url
    )


def _printed_texts(data):
    register_fonts()  # the composer measures text in the receipt's font
    return [
        text.text
        for block in compose(data, LAYOUTS["roll"])
        if isinstance(block, _Line)
        for text in block.texts
    ]


def _verify(client, payment):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(reverse("receipt_verify", args=[token_for(payment.reference)]))
    assert response.status_code == 200
    return response


def _acknowledge(payment, txn="AG-778899"):
    Notification.objects.filter(payment=payment).update(
        status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), agency_txn_id=txn
    )


def test_the_printed_receipt_says_the_agency_has_not_confirmed_yet_in_both_languages(paid):
    data = _data(paid)
    assert data.agency.status == "waiting"
    texts = _printed_texts(data)
    assert "The agency has not confirmed this payment yet" in texts
    assert "Its confirmation will show at the verification address below" in texts
    printed = " ".join(texts)
    for word in ["تؤكد", "الجهة", "السداد"]:
        assert visual(word) in printed
    assert "http://testserver/r/x" in texts  # the verification address, under the codes


def test_a_receipt_of_a_service_no_agency_is_told_of_says_nothing_of_it(
    agent_a, fixed_service, citizen, open_till
):
    payment = payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )
    data = _data(payment)
    assert data.agency is None
    assert not any("agency has not confirmed" in text for text in _printed_texts(data))


def test_an_integrated_payments_receipt_costs_one_query_more(paid, django_assert_num_queries):
    with django_assert_num_queries(1):  # the notification (lines and the rest are in hand)
        _data(paid)


def test_an_unknown_outcome_is_still_waiting_for_the_agency(paid):
    Notification.objects.filter(payment=paid).update(status=NotificationStatus.UNKNOWN)
    assert _data(paid).agency.status == "waiting"


def test_the_verification_page_says_it_waits_for_the_agencys_confirmation(client, paid):
    response = _verify(client, paid)
    html = response.content.decode()
    assert response.context["status"] == "genuine"
    assert 'data-agency="waiting"' in html
    assert "Waiting for the agency" in html


def test_the_verification_page_shows_the_agencys_confirmation_once_acknowledged(client, paid):
    _acknowledge(paid)
    html = _verify(client, paid).content.decode()
    assert 'data-agency="confirmed"' in html
    assert "Confirmed by the agency" in html and "AG-778899" in html


def test_a_copy_printed_after_the_confirmation_carries_the_agencys_reference(paid):
    _acknowledge(paid)
    texts = _printed_texts(_data(paid))
    assert "Confirmed by the agency" in texts and "AG-778899" in texts
    assert "The agency has not confirmed this payment yet" not in texts


def test_the_verification_page_says_refused_and_refund_due(client, paid):
    Notification.objects.filter(payment=paid).update(
        status=NotificationStatus.REFUSED, last_error="bill already paid"
    )
    html = _verify(client, paid).content.decode()
    assert 'data-agency="refused"' in html
    assert "Refused by the agency — refund due" in html
    assert "bill already paid" not in html  # the outbox's own words are not the citizen's
    texts = _printed_texts(_data(paid))
    assert "Refused by the agency" in texts


def test_the_verification_page_shows_no_more_personal_data_than_the_receipt(client, paid, citizen):
    _acknowledge(paid)
    html = _verify(client, paid).content.decode()
    assert citizen.national_id not in html
    assert citizen.mobile not in html


@pytest.fixture
def request_paid(integration, paid):
    integration.opens_request = True
    integration.save()  # clears the process's integrations
    return paid


def test_the_verification_page_shows_a_requests_current_status(client, request_paid):
    ServiceRequest.objects.create(payment=request_paid, agency=request_paid.service.agency)
    html = _verify(client, request_paid).content.decode()
    assert 'data-request="submitted"' in html and "Submitted" in html
    ServiceRequest.objects.filter(payment=request_paid).update(status=RequestStatus.READY)
    html = _verify(client, request_paid).content.decode()
    assert 'data-request="ready"' in html and "Ready for pickup" in html


def test_a_rejected_request_shows_its_reason(client, request_paid):
    ServiceRequest.objects.create(
        payment=request_paid,
        agency=request_paid.service.agency,
        status=RequestStatus.REJECTED,
        reason="The licence number is not ours",
    )
    html = _verify(client, request_paid).content.decode()
    assert 'data-request="rejected"' in html
    assert "Rejected" in html and "The licence number is not ours" in html


def test_the_notification_and_the_request_are_read_in_one_query(
    request_paid, django_assert_num_queries
):
    ServiceRequest.objects.create(payment=request_paid, agency=request_paid.service.agency)
    _data(request_paid)  # the integrations, read once a minute per process
    with django_assert_num_queries(1):
        data = _data(request_paid)
    assert (data.agency.status, data.agency.request_status) == ("waiting", "submitted")


def test_a_voided_payments_receipt_asks_nothing_of_the_agency(paid):
    from receipts.models import Receipt

    data = selectors.payment_receipt_data(
        paid, kind=Receipt.Kind.VOID, reference="X", copy_number=0, verify_url=""
    )
    assert data.agency is None
