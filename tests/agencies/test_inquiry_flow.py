"""Inquire first, then pay exactly what the agency says: through the counter's screens.

The agency is the simulator, a process of its own (simulators/agency.py): reference
412345678907 has two bills, 59.07 and 64.07 EGP (123.14 in all), and a part payment of
at least 10.00 is allowed (its first digit is even).
"""

import uuid

import pytest
from django.urls import reverse

from agencies.models import Inquiry, Integration, Notification
from counter.models import Payment
from counter.services.payments import payment_post, void_request
from float_management.models import Request
from float_management.services import request_decide
from simulators.testing import start

REFERENCE = "412345678907"
DUE = 5907 + 6407
PARTIAL_ONLY_EXACT = "312345678907"  # first digit odd: the whole amount, nothing else


@pytest.fixture
def simulator(settings, tmp_path):
    with start("agency", agency="POWER", state=str(tmp_path / "agency.json")) as sim:
        settings.AGENCY_SYSTEMS = {
            "POWER": {"url": sim.url, "timeout": 2.0, "inquiry_ceiling": 5.0, "retries": 0}
        }
        yield sim


@pytest.fixture(autouse=True)
def _english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def inquire_first(bill_service):
    Integration.objects.create(service=bill_service, inquire_first=True, reference_field="bill")
    return bill_service


def _ask(client, service, reference=REFERENCE):
    return client.post(reverse("agencies:inquiry", args=[service.code]), {"reference": reference})


def _pay(client, service, amount, reference=REFERENCE, **extra):
    data = {
        "ref_bill": reference,
        "amount": amount,
        "method": "cash",
        "tendered": "500",
        "idempotency_key": uuid.uuid4().hex,
        "confirm": "1",
        **extra,
    }
    return client.post(reverse("counter:pay", args=[service.code]), data)


def test_the_pay_form_of_an_inquire_first_service_sends_the_agent_to_ask_first(
    client, agent_a, inquire_first, open_till
):
    client.force_login(agent_a)
    response = client.get(reverse("counter:pay", args=[inquire_first.code]))
    assert response.status_code == 302
    assert response["Location"] == reverse("agencies:inquiry", args=[inquire_first.code])


def test_the_agency_s_answer_is_shown_and_kept_for_the_payment(
    client, agent_a, inquire_first, open_till, simulator
):
    client.force_login(agent_a)
    response = _ask(client, inquire_first)

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="inquiry-total">123.14<' in page
    assert "59.07" in page and "64.07" in page
    inquiry = Inquiry.objects.get()
    assert (inquiry.reference, inquiry.total, inquiry.partial_allowed) == (REFERENCE, DUE, True)
    assert inquiry.agent == agent_a and inquiry.payment is None
    # Its link opens the pay form filled with the reference and what is due.
    form = client.get(response.context["pay_url"])
    assert form.status_code == 200
    assert form.context["form"]["ref_bill"].value() == REFERENCE
    assert form.context["form"]["amount"].value() == "123.14"


def test_paying_what_is_due_writes_the_agency_s_notification_with_the_payment(
    client, agent_a, inquire_first, open_till, simulator
):
    client.force_login(agent_a)
    _ask(client, inquire_first)
    response = _pay(client, inquire_first, "123.14")

    assert response.status_code == 200
    payment = Payment.objects.get()
    assert payment.total == DUE + 200  # the bill and the commission
    notification = Notification.objects.get()
    assert (notification.payment, notification.kind, notification.status) == (
        payment,
        "payment",
        "pending",
    )
    assert Inquiry.objects.get().payment == payment


def test_an_answer_pays_one_payment_only(client, agent_a, inquire_first, open_till, simulator):
    client.force_login(agent_a)
    _ask(client, inquire_first)
    _pay(client, inquire_first, "123.14")
    response = _pay(client, inquire_first, "123.14")

    assert "Ask the agency what is due on this reference first" in response.content.decode()
    assert Payment.objects.count() == 1 and Notification.objects.count() == 1


@pytest.mark.parametrize(
    ("reference", "amount", "message"),
    [
        (REFERENCE, "9.99", "at least 10.00 EGP"),
        (REFERENCE, "123.15", "no more than what is due: 123.14 EGP"),
        (PARTIAL_ONLY_EXACT, "50.00", "exactly"),
    ],
)
def test_an_amount_the_agency_does_not_allow_is_refused_next_to_the_amount(
    client, agent_a, inquire_first, open_till, simulator, reference, amount, message
):
    client.force_login(agent_a)
    _ask(client, inquire_first, reference)
    response = _pay(client, inquire_first, amount, reference)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors.get("amount", []))
    assert not Payment.objects.exists() and not Notification.objects.exists()
    assert Inquiry.objects.get().payment is None


def test_a_part_the_agent_types_on_the_answer_fills_the_pay_form(
    client, agent_a, inquire_first, open_till, simulator
):
    client.force_login(agent_a)
    answer = _ask(client, inquire_first)
    assert 'id="inquiry-part"' in answer.content.decode()
    token = Inquiry.objects.get().token
    url = reverse("counter:pay", args=[inquire_first.code])
    form = client.get(url, {"inquiry": token, "amount": "20.00"})
    assert form.context["form"]["amount"].value() == "20.00"


def test_a_part_payment_the_agency_allows_is_taken(
    client, agent_a, inquire_first, open_till, simulator
):
    client.force_login(agent_a)
    _ask(client, inquire_first)
    _pay(client, inquire_first, "10.00")
    assert Payment.objects.get().total == 1000 + 200


def test_a_reference_typed_without_asking_is_refused(client, agent_a, inquire_first, open_till):
    client.force_login(agent_a)
    response = _pay(client, inquire_first, "123.14")
    assert "Ask the agency what is due" in response.content.decode()
    assert not Payment.objects.exists()


def test_another_agent_s_answer_pays_nothing_at_this_counter(
    client, agent_a, agent_b, inquire_first, open_till, simulator
):
    client.force_login(agent_b)
    _ask(client, inquire_first)
    client.force_login(agent_a)
    token = Inquiry.objects.get().token
    response = client.get(reverse("counter:pay", args=[inquire_first.code]) + f"?inquiry={token}")
    assert response.status_code == 302  # sent to ask again
    assert "Ask the agency" in _pay(client, inquire_first, "123.14").content.decode()


def test_an_agency_that_does_not_answer_is_said_so_and_nothing_is_kept(
    client, agent_a, inquire_first, open_till, settings, closed_port_url
):
    settings.AGENCY_SYSTEMS = {"POWER": {"url": closed_port_url, "timeout": 1.0, "retries": 0}}
    client.force_login(agent_a)
    response = _ask(client, inquire_first)
    assert response.status_code == 200
    assert "is not answering" in response.content.decode()
    assert not Inquiry.objects.exists()


def test_an_agency_slower_than_the_ceiling_is_given_up_on_plainly_and_nothing_is_kept(
    client, agent_a, inquire_first, open_till, simulator, settings
):
    settings.AGENCY_SYSTEMS = {
        "POWER": {"url": simulator.url, "timeout": 0.5, "inquiry_ceiling": 1.0, "retries": 3}
    }
    assert simulator.post("/v1/faults", {"slow": 3}).status == 200
    client.force_login(agent_a)
    response = _ask(client, inquire_first)
    assert "did not answer within 1 s" in response.content.decode()
    assert not Inquiry.objects.exists()
    assert not _pay(client, inquire_first, "123.14").context["form"].is_valid()
    assert not Payment.objects.exists()


def test_an_unknown_account_is_said_so(client, agent_a, inquire_first, open_till, simulator):
    client.force_login(agent_a)
    response = _ask(client, inquire_first, "412345670000")
    assert response.status_code == 200
    assert "knows no such reference" in response.content.decode()
    assert not Inquiry.objects.exists()


def test_a_reference_in_arabic_digits_is_asked_in_western_digits(
    client, agent_a, inquire_first, open_till, simulator
):
    client.force_login(agent_a)
    _ask(client, inquire_first, "٤١٢٣٤٥٦٧٨٩٠٧")
    assert Inquiry.objects.get().reference == REFERENCE


@pytest.mark.parametrize("reference", ["", "abc", "1" * 61, "<script>", "41234567890"])
def test_a_bad_reference_is_refused_without_asking(
    client, agent_a, inquire_first, open_till, simulator, reference
):
    client.force_login(agent_a)
    response = _ask(client, inquire_first, reference)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Inquiry.objects.exists()


def test_a_service_without_inquiry_has_no_inquiry_page(client, agent_a, bill_service):
    client.force_login(agent_a)
    assert client.get(reverse("agencies:inquiry", args=[bill_service.code])).status_code == 404
    Integration.objects.create(service=bill_service, reference_field="bill")  # told, not asked
    assert client.get(reverse("agencies:inquiry", args=[bill_service.code])).status_code == 404
    assert client.get(reverse("agencies:inquiry", args=["NO-SUCH"])).status_code == 404


def test_a_payment_of_a_service_without_integration_writes_no_notification(
    agent_a, bill_service, open_till
):
    payment_post(
        agent=agent_a,
        service=bill_service,
        citizen=None,
        amount=5000,
        references={"bill": REFERENCE},
        method="cash",
        tender={"tendered": 10_000},
        idempotency_key=uuid.uuid4().hex,
    )
    assert Payment.objects.count() == 1 and not Notification.objects.exists()


def test_a_void_of_an_integrated_payment_is_told_to_the_agency_too(
    agent_a, supervisor_a, bill_service, open_till
):
    Integration.objects.create(service=bill_service, reference_field="bill")
    payment = payment_post(
        agent=agent_a,
        service=bill_service,
        citizen=None,
        amount=5000,
        references={"bill": REFERENCE},
        method="cash",
        tender={"tendered": 10_000},
        idempotency_key=uuid.uuid4().hex,
    )
    void_request(agent=agent_a, payment=payment, reason="wrong", idempotency_key=uuid.uuid4().hex)
    request_decide(request=Request.objects.get(kind="void"), supervisor=supervisor_a, approve=True)

    kinds = sorted(Notification.objects.filter(payment=payment).values_list("kind", flat=True))
    assert kinds == ["payment", "void"]
