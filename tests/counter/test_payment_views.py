"""The counter screens for payments and cards, through HTTP."""

import uuid

import pytest
from django.urls import reverse
from django.utils.translation import gettext, override

from counter.citizen_links import citizen_token
from counter.models import Payment
from counter.services import cards
from float_management.models import Request
from receipts.tokens import print_token_for

# The login session, the user, the agent's till (for the closing notice). The service,
# its reference fields and the fixed fee's terms come from the catalog's cache.
PAY_FORM_QUERIES = 3


def _key():
    return uuid.uuid4().hex


def _pay_data(citizen, **extra):
    """The payment form as agent_a (who registered `citizen`) fills it in."""
    data = {
        "ref_licence": "١٢٣٤٥٦",
        "method": "cash",
        "tendered": "100",
        "citizen": citizen_token(agent=citizen.registered_by, citizen=citizen),
        "idempotency_key": _key(),
    }
    data.update(extra)
    return data


def test_step_one_shows_the_confirmation_with_the_change(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    response = client.post(url, _pay_data(citizen))
    assert response.status_code == 200
    assert "counter/payments/confirm.html" in [t.name for t in response.templates]
    assert response.context["change"] == 4_550
    assert not Payment.objects.exists()  # nothing is posted before the confirmation


def test_confirming_posts_once_even_when_clicked_twice(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    data = _pay_data(citizen, confirm="1")
    first = client.post(url, data)
    second = client.post(url, data)
    payment = Payment.objects.get()
    # The first answer is the receipt, its original printing; the second (the same key)
    # finds it printed and goes to the receipt page, printing nothing more.
    assert first.status_code == 200
    assert "receipts/preview.html" in [t.name for t in first.templates]
    assert second.status_code == 302
    assert second["Location"] == reverse("receipt", args=[payment.reference])
    assert payment.receipts.get().prints.count() == 1
    assert payment.references == {"licence": "123456"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("tendered", "12.345"), ("tendered", "-5"), ("tendered", "0"), ("ref_licence", "12ab")],
)
def test_bad_input_is_shown_next_to_the_field_and_kept(
    client, agent_a, fixed_service, citizen, open_till, field, value
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    response = client.post(url, _pay_data(citizen, **{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f'value="{value}"' in response.content.decode()
    assert not Payment.objects.exists()


def test_too_little_cash_is_refused_next_to_the_tender(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    response = client.post(url, _pay_data(citizen, tendered="20", confirm="1"))
    assert response.context["form"].errors["tendered"]
    assert not Payment.objects.exists()


def test_an_unknown_or_inactive_service_is_404(client, agent_a, fixed_service, open_till):
    client.force_login(agent_a)
    assert client.get(reverse("counter:pay", args=["NOPE"])).status_code == 404
    fixed_service.is_active = False
    fixed_service.save()
    assert client.get(reverse("counter:pay", args=[fixed_service.code])).status_code == 404


def test_a_closed_session_refuses_the_payment_with_the_reason(
    client, agent_a, fixed_service, citizen, counter_a
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    response = client.post(url, _pay_data(citizen, confirm="1"))
    assert response.status_code == 200
    with override("ar"):
        reason = gettext("Open your till before taking payments.")
    assert reason in str(response.context.get("error") or response.context["form"].errors)
    assert not Payment.objects.exists()


def _close_count_in(agent, session):
    """The agent hands in the close count: the session waits for sign-off (CLOSING)."""
    from float_management.services import till_session_submit_count

    till_session_submit_count(agent=agent, session=session, counts={}, idempotency_key=_key())


def test_a_confirm_on_a_till_being_closed_says_so_not_open_your_till(
    client, agent_a, fixed_service, citizen, open_till
):
    _close_count_in(agent_a, open_till)
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    response = client.post(url, _pay_data(citizen, confirm="1"))
    assert response.status_code == 200
    with override("ar"):  # the counter's language
        closing = gettext("Your till is being closed: no payments until it is reopened or closed.")
        open_first = gettext("Open your till before taking payments.")
    assert response.context["error"] == closing
    page = response.content.decode()
    assert page.count(closing) == 1  # the refusal, not the notice again
    assert open_first not in page
    assert not Payment.objects.exists()


def test_the_pay_form_and_step_two_say_the_till_is_being_closed(
    client, agent_a, fixed_service, citizen, open_till
):
    url = reverse("counter:pay", args=[fixed_service.code])
    client.force_login(agent_a)
    with override("ar"):  # the counter's language
        closing = gettext("Your till is being closed: no payments until it is reopened or closed.")
    assert closing not in client.get(url).content.decode()
    _close_count_in(agent_a, open_till)
    assert closing in client.get(url).content.decode()
    step_two = client.post(url, _pay_data(citizen))
    assert "counter/payments/confirm.html" in [t.name for t in step_two.templates]
    assert closing in step_two.content.decode()


def test_the_pay_form_of_a_fixed_fee_service_shows_the_fees_and_total_before_the_cash(
    client, agent_a, fixed_service, open_till, django_assert_num_queries
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    client.get(url)  # the session and the catalog's terms are read once, then cached
    with django_assert_num_queries(PAY_FORM_QUERIES):
        response = client.get(url)
    page = response.content.decode()
    assert response.context["quote"].total == 5_450
    assert '<strong id="pay-total" data-piastres="5450">54.50</strong>' in page
    for amount in ("50.00", "3.00", "1.50"):  # broken down as on the confirmation
        assert f'<td class="num">{amount}</td>' in page
    assert page.index('id="pay-total"') < page.index('name="tendered"')


def test_the_pay_form_of_a_variable_amount_leaves_the_total_to_the_confirmation(
    client, agent_a, bill_service, open_till
):
    client.force_login(agent_a)
    response = client.get(reverse("counter:pay", args=[bill_service.code]))
    assert response.status_code == 200
    assert response.context["quote"] is None
    assert 'id="pay-total"' not in response.content.decode()


def test_a_card_payment_asks_the_pin_on_the_confirmation(
    client, agent_a, fixed_service, citizen, open_till
):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=10_000, idempotency_key=_key())
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    data = _pay_data(citizen, method="card", tendered="", card_number=card.number)
    response = client.post(url, data)
    assert 'name="pin"' in response.content.decode()
    response = client.post(url, {**data, "confirm": "1", "pin": "0000"})
    assert response.status_code == 200 and response.context["error"]
    response = client.post(url, {**data, "confirm": "1", "pin": "١٢٣٤"})
    assert "receipts/preview.html" in [t.name for t in response.templates]
    assert Payment.objects.get().card_balance_after == 4_550


def test_the_payment_page_is_404_for_another_branch(
    client, agent_a, agent_b, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    client.post(reverse("counter:pay", args=[fixed_service.code]), _pay_data(citizen, confirm="1"))
    reference = Payment.objects.get().reference
    assert client.get(reverse("counter:payment", args=[reference])).status_code == 200
    client.force_login(agent_b)
    assert client.get(reverse("counter:payment", args=[reference])).status_code == 404
    response = client.post(
        reverse("counter:void", args=[reference]), {"reason": "x", "idempotency_key": _key()}
    )
    assert response.status_code == 404


def test_the_agent_requests_a_void_from_the_payment_page(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    client.post(reverse("counter:pay", args=[fixed_service.code]), _pay_data(citizen, confirm="1"))
    reference = Payment.objects.get().reference
    response = client.post(
        reverse("counter:void", args=[reference]), {"reason": "خطأ", "idempotency_key": _key()}
    )
    assert response.status_code == 302
    assert Request.objects.get(kind="void").reason == "خطأ"


def test_todays_payments_are_searchable_by_reference_and_national_id(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    client.post(reverse("counter:pay", args=[fixed_service.code]), _pay_data(citizen, confirm="1"))
    payment = Payment.objects.get()
    for q in (payment.reference, citizen.national_id):
        response = client.get(reverse("counter:payments"), {"q": q}, headers={"HX-Request": "true"})
        html = response.content.decode()
        assert payment.reference in html and "<html" not in html  # the partial alone
    response = client.get(reverse("counter:payments"), {"q": "000000000000"})
    assert list(response.context["payments"]) == []


def test_cards_page_tops_up_and_shows_the_balance(client, agent_a, citizen, open_till):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    client.force_login(agent_a)
    response = client.post(
        reverse("counter:card_top_up"),
        {
            "top_up-card_number": card.number,
            "top_up-amount": "٥٠",
            "top_up-idempotency_key": _key(),
        },
    )
    assert response.context["done_top_up"].amount == 5_000
    response = client.post(reverse("counter:card_balance"), {"balance-card_number": card.number})
    assert response.context["balance_card"].account.balance == 5_000


def test_issuing_a_card_from_the_citizens_page(client, agent_a, citizen, open_till):
    client.force_login(agent_a)
    token = citizen_token(agent=agent_a, citizen=citizen)
    url = reverse("counter:card_issue") + f"?citizen={token}"
    response = client.post(url, {"pin": "١٢٣٤", "citizen": token, "idempotency_key": _key()})
    assert response.status_code == 302
    assert citizen.cards.count() == 1
    card = citizen.cards.get()

    shown = client.get(response.url)
    again = client.get(response.url)

    grouped = " ".join(card.number[i : i + 4] for i in range(0, 16, 4))
    # Once, to the agent who issued it, and once on that page: not in a flash message too.
    assert shown.content.decode().count(grouped) == 1
    assert shown.content.decode().count(card.number[-4:]) == 1
    assert f"\u2066{grouped}\u2069" in shown.content.decode()  # isolated left to right
    assert grouped not in again.content.decode()
    assert card.number[-4:] not in again.content.decode()


def test_a_cards_full_number_is_never_shown_to_another_agent(
    client, agent_a, agent_b, citizen, open_till
):
    """The finding: `?issued=<card id>` showed any citizen's card number to any agent."""
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    client.force_login(agent_b)

    token = citizen_token(agent=agent_b, citizen=citizen)
    response = client.get(reverse("counter:card_issue"), {"citizen": token, "issued": card.pk})
    assert response.status_code == 200

    html = response.content.decode()
    assert card.number[-4:] not in html  # the last four only would be allowed; not even those
    assert " ".join(card.number[i : i + 4] for i in range(0, 8, 4)) not in html


def test_a_supervisor_unlocks_a_card(client, supervisor_a, agent_a, citizen, open_till):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    card.failed_pin_attempts, card.locked_at = 3, card.issued_at
    card.locked_branch = agent_a.profile.branch
    card.save()
    client.force_login(supervisor_a)
    response = client.post(
        reverse("counter:card_unlock"),
        {"card_number": card.number, "national_id": citizen.national_id},
    )
    assert response.status_code == 302
    card.refresh_from_db()
    assert not card.is_locked


def test_a_lost_card_is_replaced_from_the_cards_page(
    client, agent_a, supervisor_a, citizen, open_till
):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=5_000, idempotency_key=_key())
    client.force_login(agent_a)
    data = {
        "replace-card_number": card.number,
        "replace-proof_pin": "1234",
        "replace-pin": "4321",
        "replace-idempotency_key": _key(),
    }
    response = client.post(reverse("counter:card_replace"), data)
    new = response.context["replaced"]
    assert new.citizen == citizen and new.number != card.number
    assert response.context["replaced_move"].amount == 5_000
    assert "50.00" in response.content.decode()  # what waits for the supervisor, not "0.00"
    response = client.post(
        reverse("counter:card_replace"), {**data, "replace-idempotency_key": _key()}
    )
    assert response.context["replace_form"].non_field_errors()


def test_a_lost_card_is_not_replaced_without_the_citizens_proof(
    client, agent_a, citizen, open_till
):
    """The finding: the card number alone moved the whole balance to the agent's card."""
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=5_000, idempotency_key=_key())
    client.force_login(agent_a)

    for proof in ({}, {"replace-proof_pin": "9999"}, {"replace-proof_code": "123456"}):
        response = client.post(
            reverse("counter:card_replace"),
            {
                "replace-card_number": card.number,
                "replace-pin": "4321",
                "replace-idempotency_key": _key(),
                **proof,
            },
        )
        assert response.context["replace_form"].non_field_errors(), proof

    card.refresh_from_db()
    assert card.status == "active" and citizen.cards.count() == 1
    assert card.account.balance == 5_000


def test_the_code_for_a_card_replacement_goes_to_the_citizens_linked_mobile(
    client, agent_a, citizen, open_till, django_capture_on_commit_callbacks
):
    from counter.models import SmsMessage

    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    client.force_login(agent_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("counter:card_replace"),
            {"replace-card_number": card.number, "send_code": "1"},
        )

    assert response.status_code == 200
    assert response.context["code_sent_to"] == citizen.mobile[-2:]
    sms = SmsMessage.objects.get()
    assert sms.to == citizen.mobile


def test_a_card_confirmation_without_its_pin_asks_again_and_counts_no_wrong_try(
    client, agent_a, fixed_service, citizen, open_till
):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    data = _pay_data(citizen, method="card", tendered="", card_number=card.number, confirm="1")

    response = client.post(url, data)

    assert "counter/payments/confirm.html" in [t.name for t in response.templates]
    assert response.context["confirmation"].errors["pin"]
    assert response.context["quote"].total == 5_450
    card.refresh_from_db()
    assert card.failed_pin_attempts == 0
    assert not Payment.objects.exists()


def test_cash_for_a_fixed_fee_is_posted_and_printed_from_the_form(
    client, agent_a, fixed_service, citizen, open_till
):
    """The form shows the total: its button posts the cash and prints, with no step between."""
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    form = client.get(url).content.decode()
    assert 'name="confirm" value="direct"' in form
    response = client.post(url, _pay_data(citizen, confirm="direct"))
    payment = Payment.objects.get()
    assert payment.change == 4_550
    assert "receipts/preview.html" in [t.name for t in response.templates]
    page = response.content.decode()
    printed = payment.receipts.get().prints.get()
    assert (printed.number, printed.layout, printed.printed_by) == (1, "roll", agent_a)
    # The page loads that print into its frame and names its own address for a reload.
    link = reverse("receipt_print_pdf", args=[print_token_for(printed.pk)])
    assert f'data-print="{link}"' in page
    assert f'data-page="{reverse("receipt", args=[payment.reference])}"' in page
    assert client.get(link)["Content-Type"] == "application/pdf"


def test_a_card_chosen_on_the_fixed_fee_form_asks_its_pin_first(
    client, agent_a, fixed_service, citizen, open_till
):
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    data = _pay_data(citizen, method="card", tendered="", card_number=card.number)
    response = client.post(url, {**data, "confirm": "direct"})
    assert "counter/payments/confirm.html" in [t.name for t in response.templates]
    assert not response.context["confirmation"].is_bound  # asked for, not refused
    assert not Payment.objects.exists()


def test_a_variable_amount_is_confirmed_before_it_is_posted_even_if_posted_direct(
    client, agent_a, bill_service, citizen, open_till
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[bill_service.code])
    assert 'value="direct"' not in client.get(url).content.decode()
    data = _pay_data(
        citizen, amount="120", tendered="200", confirm="direct", ref_bill="123456789012"
    )
    response = client.post(url, data)
    assert "counter/payments/confirm.html" in [t.name for t in response.templates]
    assert not Payment.objects.exists()
