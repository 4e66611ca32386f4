"""Fuzzing the parsers at the counter's edges, and the forms that use them.

For any text at all (Arabic-Indic digits, odd whitespace, other scripts' digits,
very long strings) a parser returns a value or raises its module's validation
error, never anything else; a form's is_valid() never raises.
"""

import contextlib

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from core.money import MAX_AMOUNT, format_amount, parse_amount
from counter.checkdigit import luhn_digit, luhn_valid, new_reference
from counter.nationalid import (
    LENGTH,
    mask_national_id,
    normalize_national_id,
    parse_national_id,
)
from counter.phones import format_mobile_local, parse_egyptian_mobile
from receipts.tokens import reference_from

# Characters people (and attackers) type: every digit set, the separators the
# parsers know, the whitespace they may not, and a little of everything else.
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹"
# Devanagari, fullwidth, superscripts and fractions, NKo, Thai, Ethiopic.
OTHER_DIGITS = "१२३४५６７８９０²³¹⁴½߁๑፩"
SEPARATORS = " .,-+()٫٬،\t\n\r\u00a0\u2009\u200f\u200e\u202e\u0660"
ALPHABET = st.sampled_from(DIGITS + OTHER_DIGITS + SEPARATORS + "aZ_:/%\x00\ufeff")

typed = st.one_of(
    st.text(),  # anything unicode
    st.text(alphabet=ALPHABET, max_size=40),  # near misses
    st.text(alphabet=st.sampled_from(DIGITS), min_size=10, max_size=20),  # plausible numbers
    st.text(alphabet=st.sampled_from(DIGITS + ",."), min_size=1000, max_size=6000),  # very long
)
PARSER_RUNS = settings(max_examples=300, deadline=None)
FORM_RUNS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- National ID ---------------------------------------------------------------------------


@PARSER_RUNS
@given(typed)
@example("٢٩٠٠١٠١٠١٠٠٠١٥")
@example("2" * 5000)
@example("29002300100015")  # 30 February
def test_a_national_id_parses_or_is_refused_with_a_validation_error(text):
    try:
        parsed = parse_national_id(text)
    except ValidationError:
        return
    assert len(parsed.number) == LENGTH and parsed.number.isascii() and parsed.number.isdigit()
    assert parsed.sex in ("M", "F")


@PARSER_RUNS
@given(typed)
def test_normalizing_and_masking_a_national_id_never_raise(text):
    normalize_national_id(text)
    masked = mask_national_id(text)
    assert len(masked) == len(text)


# --- Mobile ---------------------------------------------------------------------------------


@PARSER_RUNS
@given(typed)
@example("٠١٠١٢٣٤٥٦٧٨")
@example("+20 10 1234 5678")
@example("00201012345678")
@example("+" * 30)
@example("0" * 5000)
def test_a_mobile_parses_to_e164_or_is_refused_with_a_validation_error(text):
    try:
        number = parse_egyptian_mobile(text)
    except ValidationError:
        return
    assert number.startswith("+201") and number[1:].isdigit() and len(number) == 13


@PARSER_RUNS
@given(typed)
def test_formatting_a_stored_mobile_never_raises(text):
    assert isinstance(format_mobile_local(text), str)


# --- Amounts --------------------------------------------------------------------------------


@PARSER_RUNS
@given(typed)
@example("9" * 5000)
@example("9" * 5000 + ".50")
@example("1," + "000," * 2000 + "000")
@example("١٬٢٠٠٫٥٠")
@example("१२३")
def test_an_amount_parses_to_piastres_or_is_refused_with_a_validation_error(text):
    try:
        amount = parse_amount(text)
    except ValidationError:
        return
    assert isinstance(amount, int) and 0 <= amount <= MAX_AMOUNT


@pytest.mark.parametrize("text", ["१२३", "１２３", "١٢٣"])
def test_only_ascii_and_arabic_digits_make_an_amount(text):
    if text == "١٢٣":
        assert parse_amount(text) == 12_300
    else:
        with pytest.raises(ValidationError):
            parse_amount(text)


@PARSER_RUNS
@given(st.integers(min_value=0, max_value=MAX_AMOUNT))
def test_a_formatted_amount_parses_back_to_itself(piastres):
    assert parse_amount(format_amount(piastres)) == piastres


# --- Payment references and card numbers (Luhn) -------------------------------------------


@PARSER_RUNS
@given(typed)
def test_the_luhn_check_answers_true_or_false_for_any_text(text):
    assert luhn_valid(text) in (True, False)


@PARSER_RUNS
@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_a_luhn_digit_always_makes_a_valid_number(payload):
    assert luhn_valid(payload + luhn_digit(payload))


def test_new_references_pass_their_own_check():
    for _ in range(200):
        reference = new_reference()
        assert len(reference) == 12 and luhn_valid(reference)


@PARSER_RUNS
@given(typed)
def test_a_receipt_token_is_genuine_or_none(text):
    assert reference_from(text) is None or isinstance(reference_from(text), str)


@PARSER_RUNS
@given(typed)
@example("4" * 16)
@example("٤٠٠٠ ٠٠٠٠ ٠٠٠٠ ٠٠٠٢")
@example("²" * 16)
def test_a_card_number_is_normalized_or_refused_with_a_domain_error(text):
    from counter.services.cards import normalize_card_number

    try:
        number = normalize_card_number(text)
    except DomainError:
        return
    assert len(number) == 16 and number.isascii() and luhn_valid(number)


@PARSER_RUNS
@given(typed)
@example("²³¹⁴")
@example("١٢٣٤")
def test_a_pin_is_checked_or_refused_with_a_domain_error(text):
    from counter.services.cards import _check_pin_format

    try:
        pin = _check_pin_format(text)
    except DomainError:
        return
    assert len(pin) == 4


@PARSER_RUNS
@given(typed)
@example("²³¹⁴")
@example("१२३४")
@example("١٢٣٤")
def test_a_pin_form_takes_ascii_digits_only(text):
    from counter.forms.payments import CardIssueForm, CardReplaceForm, PinForm

    forms = [
        PinForm({"pin": text}),
        CardIssueForm({"pin": text, "idempotency_key": "a" * 32}),
        CardReplaceForm(
            {"card_number": "4000000000000002", "pin": text, "idempotency_key": "a" * 32}
        ),
    ]
    for form in forms:
        if form.is_valid():
            pin = form.cleaned_data["pin"]
            assert pin.isascii() and pin.isdigit()


# --- Forms: is_valid() never raises --------------------------------------------------------

field_value = st.one_of(typed, st.just(""))


def _data(draw_values, names):
    return dict(zip(names, draw_values, strict=True))


@FORM_RUNS
@given(values=st.lists(field_value, min_size=6, max_size=6))
def test_the_citizen_forms_never_raise(values, db):
    from counter.forms.citizens import CitizenForm, SendCodeForm, VerifyCodeForm

    forms = [
        CitizenForm(_data(values[:4], ["national_id", "name_ar", "mobile", "name_en"])),
        SendCodeForm({"mobile": values[4]}),
        VerifyCodeForm({"code": values[5]}),
    ]
    for form in forms:
        form.is_valid()


@FORM_RUNS
@given(values=st.lists(field_value, min_size=10, max_size=10))
def test_the_card_and_payment_side_forms_never_raise(values, db):
    from counter.forms.payments import (
        CardIssueForm,
        CardNumberForm,
        CardReplaceForm,
        CardTopUpForm,
        PinForm,
        VoidForm,
    )
    from float_management.forms import AmountForm, DecideForm

    key = {"idempotency_key": values[9]}
    forms = [
        PinForm({"pin": values[0]}),
        VoidForm({"reason": values[1], **key}),
        CardNumberForm({"card_number": values[2]}),
        CardIssueForm({"pin": values[3], **key}),
        CardTopUpForm({"card_number": values[4], "amount": values[5], **key}),
        CardReplaceForm({"card_number": values[6], "pin": values[7], **key}),
        AmountForm({"amount": values[8], **key}),
        DecideForm({"decision": values[0], "reason": values[1]}),
    ]
    for form in forms:
        if form.is_valid() and "amount" in form.cleaned_data:
            assert 0 < form.cleaned_data["amount"] <= MAX_AMOUNT


@FORM_RUNS
@given(values=st.lists(field_value, min_size=7, max_size=7))
def test_the_payment_form_never_raises(values, fixed_service, bill_service):
    from counter.forms.payments import PaymentForm

    for service in (fixed_service, bill_service):
        data = {
            "ref_licence": values[0],
            "ref_bill": values[1],
            "amount": values[2],
            "tendered": values[3],
            "method": values[4],
            "card_number": values[5],
            "citizen": values[6],
            "idempotency_key": "a" * 32,
        }
        PaymentForm(data, service=service).is_valid()


@FORM_RUNS
@given(values=st.lists(field_value, min_size=2, max_size=2))
def test_the_reference_fields_of_a_service_are_cleaned_or_refused(
    values, fixed_service, bill_service
):
    from counter.services.catalog import references_clean

    for service in (fixed_service, bill_service):
        with contextlib.suppress(ValidationError):
            references_clean(service=service, data={"licence": values[0], "bill": values[1]})


@FORM_RUNS
@given(values=st.lists(field_value, min_size=12, max_size=12))
def test_the_till_and_vault_forms_never_raise(
    values, denominations, branch_a, counter_a, agent_a, supervisor_a
):
    from django.contrib.auth import get_user_model

    from float_management.forms import CountForm, OpenSessionForm, VaultMoveForm

    count_data = {f"d{d.pk}": v for d, v in zip(denominations.values(), values, strict=False)}
    forms = [
        CountForm({**count_data, "idempotency_key": "a" * 32}),
        OpenSessionForm({"counter": values[0], "amount": values[1]}, branch=branch_a),
        VaultMoveForm(
            {"direction": values[2], "amount": values[3], "witness": values[4]},
            witnesses=get_user_model().objects.exclude(pk=supervisor_a.pk),
        ),
    ]
    for form in forms:
        form.is_valid()
    if forms[0].is_valid():
        assert all(0 <= n <= 100_000 for n in forms[0].counts().values())


@FORM_RUNS
@given(values=st.lists(field_value, min_size=2, max_size=2))
def test_the_report_and_settlement_forms_never_raise(values, db):
    from receipts.reports.forms import ReportDayForm
    from settlement.forms import SettlementRunForm

    ReportDayForm({"day": values[0]}).is_valid()
    SettlementRunForm({"business_day": values[1]}).is_valid()


# --- Through the views: never a server error ------------------------------------------------

VIEW_RUNS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
query = st.one_of(st.text(max_size=200), st.text(alphabet=ALPHABET, max_size=40))


def _printable(text: str) -> str:
    return text.replace("\x00", "")  # the test client refuses NUL in a query string


@VIEW_RUNS
@given(text=query)
def test_the_agents_search_pages_never_fail(text, client, agent_a):
    from django.urls import reverse

    client.force_login(agent_a)
    for name in ("counter:citizen_search", "counter:service_search", "counter:payments"):
        response = client.get(reverse(name), {"q": _printable(text)})
        assert response.status_code == 200, name
    # Arriving from a search that found nobody: the ID is carried to the new citizen form.
    response = client.get(reverse("counter:citizen_new"), {"national_id": _printable(text)})
    assert response.status_code == 200


@VIEW_RUNS
@given(username=query, password=query)
def test_the_login_page_never_fails(username, password, client, db):
    from django.urls import reverse

    response = client.post(
        reverse("login"), {"username": _printable(username), "password": _printable(password)}
    )
    assert response.status_code in (200, 429)


@VIEW_RUNS
@given(text=query)
@example(text="²")
@example(text="١٢")
@example(text="9" * 40)
def test_the_citizen_carried_in_the_query_string_never_breaks_a_page(
    text, client, agent_a, fixed_service
):
    from django.urls import reverse

    client.force_login(agent_a)
    value = _printable(text)
    # Anything but a token signed for this agent opens no citizen: a readable 404.
    refused = (404,) if value.strip() else (200, 302)
    for url, expected in (
        (reverse("counter:home"), refused),
        (reverse("counter:pay", args=[fixed_service.code]), refused),
        (reverse("counter:card_issue"), refused),
        (reverse("counter:service_search"), (200,)),
    ):
        response = client.get(url, {"citizen": value})
        assert response.status_code in expected, url
        if response.status_code == 404:
            assert "counter/citizens/link_gone.html" in [t.name for t in response.templates]


@VIEW_RUNS
@given(text=query)
@example(text="²")
@example(text="9" * 40)
def test_the_issued_card_in_the_query_string_never_breaks_the_page(text, client, agent_a, citizen):
    from django.urls import reverse

    from counter.citizen_links import citizen_token

    client.force_login(agent_a)
    token = citizen_token(agent=agent_a, citizen=citizen)
    response = client.get(
        reverse("counter:card_issue"), {"citizen": token, "issued": _printable(text)}
    )
    assert response.status_code == 200


@VIEW_RUNS
@given(text=query)
def test_the_report_and_settlement_query_strings_never_break_a_page(text, client, head_office):
    from django.urls import reverse

    client.force_login(head_office)
    value = _printable(text)
    for url, params in (
        (reverse("report_national"), {"day": value}),
        (reverse("report_national"), {"day": value, "format": "csv"}),
        (reverse("settlement_list"), {"agency": value}),
        (reverse("dashboard:nation"), {"fragment": value}),
    ):
        response = client.get(url, params)
        assert response.status_code in (200, 400), (url, params)
