"""Payment methods are a registry: a third method is a module and a line, nothing else.

The voucher below exists only in these tests. It is paid with through the
counter's screens, and then every place that shows how people paid names it
and counts it apart: the receipt, the daily report (page, PDF, CSV) and the
session report. Before the registry it would have printed as "Cash" and been
counted in the card column.
"""

import csv
import io
import uuid

import pytest
from django import forms
from django.conf import settings
from django.urls import reverse

from counter import methods
from counter.methods import PaymentMethod, ReportColumn, Source
from counter.models import Payment
from counter.services import cards
from counter.services import payments as payment_services
from float_management.ledger import account_for
from float_management.models import AccountKind
from receipts.reports.data import CountTotal
from tests.counter.test_payment_views import _pay_data
from tests.receipts.test_pdf import needs_poppler, text_of

TOTAL = 5_450  # fixed_service: 50.00 + 3.00 + 1.50


def _key():
    return uuid.uuid4().hex


class Voucher(PaymentMethod):
    """A gift voucher: its money comes from the branch's account of vouchers sold."""

    key = "voucher"
    label = "Gift voucher"
    receipt_label = "Gift voucher"
    column = ReportColumn("voucher", "Voucher", "Voucher (EGP)", "Voucher payments")
    confirm_button = "Redeem the voucher"
    required = {"voucher_code": "Enter the voucher code."}

    def fields(self):
        return {"voucher_code": forms.CharField(label="Voucher code", required=False)}

    def payload(self, tender):
        return {"voucher": tender["voucher_code"]}

    def source(self, *, session, tender, held, total):
        return Source(vouchers_account(session.branch))


def vouchers_account(branch):
    return account_for(AccountKind.TRANSIT, f"vouchers:{branch.code}", branch=branch)


@pytest.fixture
def voucher():
    method = methods.register(Voucher())
    yield method
    methods.unregister(method.key)


@pytest.fixture
def a_day_of_three_methods(client, agent_a, fixed_service, citizen, open_till, voucher):
    """One cash payment, one card payment, and two by voucher through the pay screen."""
    payment_services.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=_key(),
    )
    card = cards.card_issue(agent=agent_a, citizen=citizen, pin="1234", idempotency_key=_key())
    cards.card_top_up(agent=agent_a, card_number=card.number, amount=10_000, idempotency_key=_key())
    payment_services.payment_post_card(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        card_number=card.number,
        pin="1234",
        idempotency_key=_key(),
    )
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])
    for code in ("V-1", "V-2"):
        data = _pay_data(citizen, method="voucher", tendered="", voucher_code=code)
        response = client.post(url, {**data, "confirm": "1"})
        assert "receipts/preview.html" in [t.name for t in response.templates]
    return Payment.objects.filter(method="voucher").order_by("pk")


def test_the_payment_tables_methods_are_the_registrys():
    # The counter's own three, then the wallet (registered by its app, above the counter).
    assert methods.registered_keys() == ["cash", "card", "bankcard", "wallet"]
    assert set(Payment.Method.values) <= set(methods.registered_keys())
    assert Payment._meta.get_field("method").choices == methods.choices()


def test_a_key_is_registered_once(voucher):
    with pytest.raises(ValueError, match="already registered"):
        methods.register(Voucher())
    assert methods.get("voucher") is voucher


def test_the_pay_screen_offers_a_new_method_and_asks_its_own_fields(
    client, agent_a, fixed_service, citizen, open_till, voucher
):
    client.force_login(agent_a)
    url = reverse("counter:pay", args=[fixed_service.code])

    page = client.get(url).content.decode()
    assert 'value="voucher"' in page and 'name="voucher_code"' in page

    refused = client.post(url, _pay_data(citizen, method="voucher", tendered=""))
    assert refused.context["form"].errors["voucher_code"] == ["Enter the voucher code."]

    step_one = client.post(url, _pay_data(citizen, method="voucher", tendered="", voucher_code="V"))
    assert "counter/payments/confirm.html" in [t.name for t in step_one.templates]
    assert "Redeem the voucher" in step_one.content.decode()
    assert step_one.context["change"] is None
    assert not Payment.objects.exists()


def test_a_voucher_payment_debits_the_vouchers_account_and_fills_no_cash_or_card_column(
    a_day_of_three_methods, branch_a, open_till
):
    first = a_day_of_three_methods.first()
    assert (first.total, first.tendered, first.change, first.card_id) == (TOTAL, None, None, None)
    assert vouchers_account(branch_a).balance == 2 * TOTAL
    open_till.account.refresh_from_db()
    # The float, the card's top-up and the cash payment: nothing of the vouchers.
    assert open_till.account.balance == 100_000 + 10_000 + TOTAL


@needs_poppler
def test_the_receipt_names_the_new_method_never_cash_or_card(
    client, a_day_of_three_methods, tmp_path
):
    payment = a_day_of_three_methods.first()
    pdf = client.get(reverse("receipt_pdf", args=[payment.reference])).content

    text = text_of(pdf, tmp_path)

    assert "Gift voucher / Gift voucher" in text
    assert "Cash" not in text and "Card" not in text


def _branch_report(client, supervisor_a, branch_a, **query):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(supervisor_a)
    return client.get(reverse("report_branch", args=[branch_a.code]), query)


def test_the_daily_report_page_has_the_methods_own_row_and_column_and_they_add_up(
    client, supervisor_a, branch_a, a_day_of_three_methods
):
    response = _branch_report(client, supervisor_a, branch_a)

    report = response.context["report"]
    assert report.voucher == CountTotal(2, 2 * TOTAL)
    assert (report.cash, report.card) == (CountTotal(1, TOTAL), CountTotal(1, TOTAL))
    figures = [f for _method, f in report.columns]
    assert sum(f.count for f in figures) == report.payments.count == 4
    assert sum(f.total for f in figures) == report.payments.total == 4 * TOTAL
    (row,) = report.by_service
    assert row.voucher == CountTotal(2, 2 * TOTAL)
    html = response.content.decode()
    assert "Gift voucher" in html and "Voucher (EGP)" in html
    assert "109.00" in html  # the voucher's column; cash and card hold 54.50 each


def test_the_daily_csv_has_the_methods_column_and_the_columns_add_up(
    client, supervisor_a, branch_a, a_day_of_three_methods
):
    response = _branch_report(client, supervisor_a, branch_a, format="csv")

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[-5:] == ["cash_egp", "card_egp", "bankcard_egp", "wallet_egp", "voucher_egp"]
    assert all(len(row) == len(header) for row in rows)
    service = next(row for row in rows if row[0] == "service")
    total = rows[-1]
    assert service[-5:] == total[-5:] == ["54.50", "54.50", "0.00", "0.00", "109.00"]
    assert total[4:6] == ["4", "218.00"]


@needs_poppler
def test_the_daily_pdf_has_the_methods_row_and_column(
    client, supervisor_a, branch_a, a_day_of_three_methods, tmp_path
):
    response = _branch_report(client, supervisor_a, branch_a, format="pdf")

    text = text_of(response.content, tmp_path)

    assert "Gift voucher" in text  # the summary's row
    assert "Voucher" in text.replace("Gift voucher", "")  # the by-service column
    assert "109.00" in text and "218.00" in text


def test_the_session_report_counts_the_method_apart_and_not_as_till_cash(
    client, supervisor_a, open_till, a_day_of_three_methods
):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(supervisor_a)

    response = client.get(reverse("report_session", args=[open_till.pk]))

    report = response.context["report"]
    assert report.voucher == CountTotal(2, 2 * TOTAL)
    assert report.till_payments == CountTotal(1, TOTAL)  # cash only: the card and vouchers not
    html = response.content.decode()
    assert "Voucher payments" in html and "Voucher (EGP)" in html


def test_a_payment_of_a_method_no_longer_registered_fails_the_report_loudly(
    client, supervisor_a, branch_a, a_day_of_three_methods
):
    methods.unregister("voucher")
    try:
        with pytest.raises(KeyError):
            _branch_report(client, supervisor_a, branch_a)
    finally:
        methods.register(Voucher())
