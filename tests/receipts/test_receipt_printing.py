"""Printing a receipt is a POST of the payment's agent: the original once, then counted copies.

Opening the PDF (GET) is a preview for any reader and counts nothing. A print
answers with a short-lived link to that print's PDF, which the receipt page
loads in a frame of its own origin to open the print dialog.
"""

import shutil
import threading
import time
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from agents.models import Role
from audit.models import AuditEntry
from core.errors import NotAllowed
from counter.services import payments
from receipts import selectors, services
from receipts.models import Receipt, ReceiptPrint
from receipts.tokens import print_token_for
from tests.factories import person

JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read the English messages (the app speaks Arabic unless told)."""
    client.cookies["django_language"] = "en"


@pytest.fixture
def payment(agent_a, fixed_service, citizen, open_till):
    return payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )


def _print(client, reference, layout="roll", **headers):
    url = reverse("receipt_print", args=[reference])
    return client.post(url, {"layout": layout}, headers={**JSON, **headers})


def _prints(reference) -> list[tuple[int, str, str]]:
    return list(
        ReceiptPrint.objects.filter(receipt__reference=reference)
        .order_by("number")
        .values_list("number", "printed_by__username", "layout")
    )


def _counted(reference) -> tuple:
    """What the database says about a receipt's prints."""
    receipt = Receipt.objects.filter(reference=reference).first()
    state = None if receipt is None else (receipt.original_printed_at, receipt.reprints)
    return state, _prints(reference)


def test_opening_the_pdf_counts_nothing_whoever_opens_it(
    client, agent_a, supervisor_a, auditor, payment
):
    url = reverse("receipt_pdf", args=[payment.reference])
    for user in (agent_a, supervisor_a, auditor):
        client.force_login(user)
        for layout in ("roll", "a4"):
            response = client.get(url, {"layout": layout})
            assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
            assert response.content.startswith(b"%PDF")
            assert "preview" in response["Content-Disposition"]
    assert _counted(payment.reference) == (None, [])
    assert not AuditEntry.objects.filter(action__startswith="receipt.").exists()


def test_opening_the_receipt_page_writes_nothing(client, agent_a, auditor, payment):
    for user in (agent_a, auditor):
        client.force_login(user)
        response = client.get(reverse("receipt", args=[payment.reference]) + "?print=1")
        assert response.status_code == 200
    assert not Receipt.objects.exists()


def test_the_agents_first_print_is_the_original_and_the_second_is_copy_2(client, agent_a, payment):
    client.force_login(agent_a)
    first = _print(client, payment.reference)
    assert first.status_code == 200, first.content
    original = client.get(first.json()["pdf"])
    assert original.status_code == 200 and original["Content-Type"] == "application/pdf"
    assert original.content.startswith(b"%PDF")
    assert original["Content-Disposition"] == f'inline; filename="receipt-{payment.reference}.pdf"'
    # The receipt page loads it into a frame of its own origin, to open the print dialog.
    assert original["X-Frame-Options"] == "SAMEORIGIN"

    second = _print(client, payment.reference)
    copy = client.get(second.json()["pdf"])
    assert copy["Content-Disposition"] == (
        f'inline; filename="receipt-{payment.reference}-copy2.pdf"'
    )
    receipt = Receipt.objects.get(reference=payment.reference)
    assert receipt.original_printed_at is not None and receipt.reprints == 1
    assert _prints(payment.reference) == [(1, "agent_a", "roll"), (2, "agent_a", "roll")]
    assert second.json()["number"] == 2


def test_every_other_page_keeps_refusing_to_be_framed(client, agent_a, payment):
    client.force_login(agent_a)
    preview = client.get(reverse("receipt_pdf", args=[payment.reference]))
    page = client.get(reverse("receipt", args=[payment.reference]))
    assert preview["X-Frame-Options"] == page["X-Frame-Options"] == "DENY"


def test_fetching_a_print_again_counts_nothing(client, agent_a, payment):
    client.force_login(agent_a)
    link = _print(client, payment.reference).json()["pdf"]
    before = _counted(payment.reference)
    for _ in range(3):
        response = client.get(link)
        assert response.status_code == 200
        assert "copy" not in response["Content-Disposition"]
    assert _counted(payment.reference) == before


def test_another_branchs_agent_gets_404_and_nothing_is_printed(client, agent_b, payment):
    client.force_login(agent_b)
    assert _print(client, payment.reference).status_code == 404
    assert _counted(payment.reference) == (None, [])


def test_a_supervisor_reprint_is_counted_and_audited(client, agent_a, supervisor_a, payment):
    client.force_login(agent_a)
    _print(client, payment.reference)
    client.force_login(supervisor_a)
    response = _print(client, payment.reference, layout="a4")
    assert response.status_code == 200 and response.json()["number"] == 2
    assert _prints(payment.reference) == [(1, "agent_a", "roll"), (2, "supervisor_a", "a4")]
    entry = AuditEntry.objects.get(action="receipt.copy_printed")
    assert entry.actor == supervisor_a and entry.object_id == payment.reference
    assert entry.branch_id == payment.branch_id
    assert entry.data == {"number": 2, "layout": "a4", "kind": "payment", "by": "supervisor"}
    original = AuditEntry.objects.get(action="receipt.original_printed")
    assert original.actor == agent_a and original.data["number"] == 1


@pytest.mark.parametrize("persona", ["regional_a", "head_office", "auditor"])
def test_a_reader_who_neither_took_the_payment_nor_supervises_the_branch_cannot_print(
    client, personas, persona, payment
):
    client.force_login(personas[persona])
    response = _print(client, payment.reference)
    assert response.status_code == 403
    assert "supervisor" in response.json()["error"]
    assert _counted(payment.reference) == (None, [])


def test_another_agent_of_the_same_branch_cannot_print(client, branch_a, payment):
    from agents.models import Role
    from tests.factories import person

    client.force_login(person("agent_a2", Role.AGENT, branch=branch_a))
    assert _print(client, payment.reference).status_code == 403
    assert _counted(payment.reference) == (None, [])


def test_printing_refuses_get_and_the_print_link_refuses_post(client, agent_a, payment):
    client.force_login(agent_a)
    url = reverse("receipt_print", args=[payment.reference])
    assert client.get(url, {"layout": "roll"}).status_code == 405
    link = _print(client, payment.reference).json()["pdf"]
    assert client.post(link).status_code == 405
    assert len(_prints(payment.reference)) == 1


def test_printing_needs_the_csrf_token(agent_a, payment):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_a)
    response = _print(client, payment.reference)
    assert response.status_code == 403 and b"CSRF" in response.content
    assert _counted(payment.reference) == (None, [])
    client.cookies["csrftoken"] = "a" * 32
    url = reverse("receipt_print", args=[payment.reference])
    response = client.post(url, {"layout": "roll", "csrfmiddlewaretoken": "a" * 32}, headers=JSON)
    assert response.status_code == 200
    assert len(_prints(payment.reference)) == 1


def test_an_unknown_layout_is_refused_with_a_message(client, agent_a, payment):
    client.force_login(agent_a)
    response = _print(client, payment.reference, layout="letter")
    assert response.status_code == 400 and "80 mm" in response.json()["error"]
    assert _counted(payment.reference) == (None, [])


def test_a_print_link_is_its_printers_alone_and_only_for_a_while(
    client, agent_a, supervisor_a, payment, monkeypatch
):
    client.force_login(agent_a)
    link = _print(client, payment.reference).json()["pdf"]
    client.force_login(supervisor_a)  # the branch's supervisor, who may see the receipt
    assert client.get(link).status_code == 404
    client.force_login(agent_a)
    assert client.get(link).status_code == 200
    printed = ReceiptPrint.objects.get()
    an_hour_ago = time.time() - 3600
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: an_hour_ago)
        old_link = reverse("receipt_print_pdf", args=[print_token_for(printed.pk)])
    assert client.get(old_link).status_code == 404


def test_a_forged_print_link_is_404(client, agent_a, payment):
    client.force_login(agent_a)
    link = _print(client, payment.reference).json()["pdf"]
    forged = link.replace(".pdf", "x.pdf")
    assert client.get(forged).status_code == 404
    assert client.get(reverse("receipt_print_pdf", args=["1"])).status_code == 404


def test_without_javascript_a_print_opens_its_pdf(client, agent_a, payment):
    client.force_login(agent_a)
    url = reverse("receipt_print", args=[payment.reference])
    response = client.post(url, {"layout": "a4"})
    assert response.status_code == 302
    assert client.get(response["Location"])["Content-Type"] == "application/pdf"
    assert _prints(payment.reference) == [(1, "agent_a", "a4")]


def test_a_refused_print_without_javascript_says_why_on_the_receipt_page(client, auditor, payment):
    client.force_login(auditor)
    url = reverse("receipt_print", args=[payment.reference])
    response = client.post(url, {"layout": "roll"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("receipt", args=[payment.reference])
    assert "supervisor" in response.content.decode()


def test_the_page_prints_by_itself_only_until_the_original_is_printed(client, agent_a, payment):
    client.force_login(agent_a)
    url = reverse("receipt", args=[payment.reference]) + "?print=1"
    assert 'data-auto="1"' in client.get(url).content.decode()
    _print(client, payment.reference)
    html = client.get(url).content.decode()  # a reload must not print a second original
    assert 'data-auto="1"' not in html
    assert "Original printed; 0 copies since." in html


def test_the_print_buttons_are_only_for_who_may_print(client, agent_a, auditor, payment):
    client.force_login(auditor)
    html = client.get(reverse("receipt", args=[payment.reference])).content.decode()
    assert 'id="print-receipt"' not in html
    client.force_login(agent_a)
    html = client.get(reverse("receipt", args=[payment.reference])).content.decode()
    assert 'id="print-receipt"' in html
    assert reverse("receipt_print", args=[payment.reference]) in html


def test_a_top_up_slip_is_printed_by_its_agent(client, agent_a, citizen, open_till):
    from counter.services import cards

    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key="k1" * 16)
    top_up = cards.card_top_up(
        agent=agent_a, card_number=card.number, amount=5_000, idempotency_key="k2" * 16
    )
    client.force_login(agent_a)
    assert _print(client, top_up.reference).json()["number"] == 1
    assert _prints(top_up.reference) == [(1, "agent_a", "roll")]


def test_a_print_costs_a_fixed_number_of_queries(agent_a, payment, django_assert_num_queries):
    receipt = selectors.receipt_find(payment.reference)
    services.receipt_print(user=agent_a, receipt=receipt, layout="roll")  # creates the row
    # The savepoint and its release (the test runs inside a transaction); the number
    # (two UPDATEs and the copies' count read back); the print; the audit head and entry.
    with django_assert_num_queries(8):
        services.receipt_print(user=agent_a, receipt=receipt, layout="roll")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_prints_at_once_get_one_original_and_distinct_copy_numbers(agent_a, payment):
    """Four first prints at once (as four requests: each its own unsaved receipt)."""
    numbers, errors = [], []
    barrier = threading.Barrier(4)

    def worker():
        try:
            receipt = selectors.receipt_find(payment.reference)
            barrier.wait()
            numbers.append(
                services.receipt_print(user=agent_a, receipt=receipt, layout="roll").number
            )
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [1, 2, 3, 4]
    assert Receipt.objects.get(reference=payment.reference).reprints == 3


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)")
def test_the_preview_says_it_is_not_a_receipt_and_the_print_does_not(
    client, agent_a, payment, tmp_path
):
    from tests.receipts.test_pdf import text_of

    client.force_login(agent_a)
    preview = client.get(reverse("receipt_pdf", args=[payment.reference]))
    assert "PREVIEW" in text_of(preview.content, tmp_path)
    original = client.get(_print(client, payment.reference).json()["pdf"])
    text = text_of(original.content, tmp_path)
    assert "PREVIEW" not in text and "COPY" not in text
    copy = client.get(_print(client, payment.reference).json()["pdf"])
    assert "Copy no. 2" in text_of(copy.content, tmp_path)


def _new_receipt(payment):
    return Receipt(reference=payment.reference, kind=Receipt.Kind.PAYMENT, payment=payment)


def test_the_original_of_a_payment_just_posted_is_printed_once_and_audited(agent_a, payment):
    printed = services.receipt_print_original(user=agent_a, receipt=_new_receipt(payment))
    assert (printed.number, printed.layout, printed.printed_by) == (1, "roll", agent_a)
    assert _prints(payment.reference) == [(1, "agent_a", "roll")]
    receipt = Receipt.objects.get(reference=payment.reference)
    assert receipt.original_printed_at is not None and receipt.reprints == 0
    entry = AuditEntry.objects.get(action="receipt.original_printed")
    assert entry.object_id == payment.reference and entry.data["number"] == 1
    # A retried confirmation comes back with the same payment: nothing more is printed.
    assert services.receipt_print_original(user=agent_a, receipt=_new_receipt(payment)) is None
    assert _prints(payment.reference) == [(1, "agent_a", "roll")]
    assert AuditEntry.objects.filter(action__startswith="receipt.").count() == 1


def test_the_original_is_not_printed_by_another_agent(agent_a, branch_a, payment):
    colleague = person("agent_a2", Role.AGENT, branch=branch_a)
    with pytest.raises(NotAllowed):
        services.receipt_print_original(user=colleague, receipt=_new_receipt(payment))
    assert not Receipt.objects.exists() and not ReceiptPrint.objects.exists()


def test_a_payment_and_its_original_cost_a_fixed_number_of_queries(
    agent_a, fixed_service, citizen, open_till, django_assert_num_queries
):
    """The posting's statements, then the original: its row, the print, the audit head and
    entry, and the payment's lines are not read back (the payment has them in hand)."""
    payment = payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )
    receipt = _new_receipt(payment)
    # The savepoint and its release (the test runs inside a transaction) and four statements.
    with django_assert_num_queries(6):
        services.receipt_print_original(user=agent_a, receipt=receipt)
    with django_assert_num_queries(0):
        data = selectors.payment_receipt_data(
            payment, kind="payment", reference=payment.reference, copy_number=0, verify_url=""
        )
    assert [line.amount for line in data.lines] == [5_000, 300, 150]
    assert data.counter_number == open_till.counter.number
