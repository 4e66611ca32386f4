"""A bank card on the counter's terminal: the agent types the approval code and last four."""

import uuid

import pytest
from django.conf import settings
from django.urls import reverse

from counter.errors import ApprovalUsed
from counter.models import Payment
from counter.services import payments as payment_services
from float_management.models import Account
from float_management.verify import ledger_verify
from receipts.selectors import payment_receipt_data
from tests.counter.test_payment_views import _pay_data
from tests.factories import wallet_qr

TOTAL = 5_450  # fixed_service: 50.00 + 3.00 + 1.50


def _post(agent, service, citizen, **tender):
    return payment_services.payment_post(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        method="bankcard",
        tender={"approval_code": "AB12CD", "card_last4": "4242", **tender},
        idempotency_key=uuid.uuid4().hex,
    )


def test_a_bank_card_payment_is_owed_by_the_acquirer_and_leaves_the_till_alone(
    agent_a, fixed_service, citizen, open_till, branch_a
):
    till_before = Account.objects.get(pk=open_till.account_id).balance

    payment = _post(agent_a, fixed_service, citizen)

    assert payment.method == "bankcard"
    assert payment.external_reference == "A0001-01:AB12CD"
    assert payment.card_last4 == "4242"
    assert payment.tendered is None and payment.change is None
    assert Account.objects.get(pk=open_till.account_id).balance == till_before
    clearing = Account.objects.get(key=f"clearing:bankcard:{branch_a.code}")
    assert clearing.kind == "clearing" and clearing.balance == TOTAL
    assert ledger_verify().ok


def test_an_approval_code_already_paid_at_this_terminal_is_refused(
    agent_a, fixed_service, citizen, open_till
):
    # An old slip's code typed again would be a card payment nobody made: the cash
    # taken for it would be the agent's. One approval is one payment.
    first = _post(agent_a, fixed_service, citizen)
    with pytest.raises(ApprovalUsed, match=first.reference):
        _post(agent_a, fixed_service, citizen, card_last4="1111")
    assert Payment.objects.filter(method="bankcard").count() == 1


def test_the_form_shows_a_used_approval_code_next_to_its_field(
    client, agent_a, fixed_service, citizen, open_till
):
    first = _post(agent_a, fixed_service, citizen)
    client.force_login(agent_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    url = reverse("counter:pay", args=[fixed_service.code])
    data = _pay_data(
        citizen, method="bankcard", tendered="", approval_code="AB12CD", card_last4="1111"
    )
    response = client.post(url, {**data, "confirm": "direct"})

    assert response.status_code == 200
    assert response.context["form"].errors["approval_code"] == [
        f"This approval code already paid receipt {first.reference}."
    ]
    assert Payment.objects.count() == 1


def test_the_form_refuses_a_whole_card_number_and_a_bad_approval_code(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    data = _pay_data(
        citizen,
        method="bankcard",
        tendered="",
        approval_code="ab-12",
        card_last4="4242424242424242",
    )
    response = client.post(url, {**data, "confirm": "direct"})

    assert response.status_code == 200
    form = response.context["form"]
    assert "approval_code" in form.errors and "card_last4" in form.errors
    assert not Payment.objects.exists()


def test_the_form_asks_for_both_when_the_bank_card_is_chosen(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    url = reverse("counter:pay", args=[fixed_service.code])
    response = client.post(url, _pay_data(citizen, method="bankcard", tendered=""))
    form = response.context["form"]
    assert form.errors["approval_code"] == ["Type the approval code the terminal printed."]
    assert form.errors["card_last4"] == ["Type the card's last four digits."]


def test_paid_from_the_form_and_the_receipt_carries_the_approval_code(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    data = _pay_data(
        citizen, method="bankcard", tendered="", approval_code=" ab12cd ", card_last4="٤٢٤٢"
    )
    response = client.post(url, {**data, "confirm": "direct"})

    payment = Payment.objects.get()
    assert response.status_code == 200
    assert (payment.external_reference, payment.card_last4) == ("A0001-01:AB12CD", "4242")
    data = payment_receipt_data(
        payment, kind="original", reference=payment.reference, copy_number=0, verify_url="x"
    )
    assert ("Approval code", "رقم الموافقة", "AB12CD") in data.method_rows
    assert ("Card", "البطاقة", "**** 4242") in data.method_rows
    assert "AB12CD" in response.content.decode()


def test_the_blind_close_expects_the_cash_alone(
    agent_a, supervisor_a, fixed_service, citizen, open_till, denominations, settings
):
    """A bank card and a wallet payment add nothing to the cash the till should hold."""
    from float_management import services as till_services
    from float_management.services import request_decide
    from tests.float_management.helpers import counts_for
    from wallet import services as wallet_services

    settings.WALLET_PROVIDER_BACKEND = "tests.wallet.fakes.FakeWallet"
    payment_services.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )
    _post(agent_a, fixed_service, citizen)
    intent = wallet_qr(agent_a, fixed_service, citizen)
    wallet_services.money_arrived(
        txn_id="WT1", reference=intent.reference, amount=TOTAL, paid_at=intent.created_at, via="x"
    )
    assert set(Payment.objects.values_list("method", flat=True)) == {"cash", "bankcard", "wallet"}
    expected = 100_000 + TOTAL  # the float and the one cash payment

    request = till_services.till_session_submit_count(
        agent=agent_a,
        session=open_till,
        counts=counts_for(denominations, expected),
        idempotency_key=uuid.uuid4().hex,
    )
    request_decide(request=request, supervisor=supervisor_a, approve=True)

    open_till.refresh_from_db()
    assert (open_till.expected, open_till.counted, open_till.variance) == (expected, expected, 0)
    assert ledger_verify().ok
