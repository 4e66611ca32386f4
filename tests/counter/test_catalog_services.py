"""The catalog's rules: quotes on a day, fee history, ledger accounts, reference fields, search."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from core.errors import InvalidAmount, InvalidState
from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service
from counter.selectors.catalog import fold, service_by_code, services_search
from counter.services.catalog import (
    Quote,
    component_account,
    component_account_key,
    component_agency,
    quote_lines,
    references_clean,
    schedule_at,
    service_quote,
)
from float_management.models import Account, AccountKind

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)
DAY = date(2026, 3, 15)
Kind = FeeComponent.Kind


@pytest.fixture(autouse=True)
def _in_english():
    """Messages are read in English here; the Arabic ones come from the translation catalogue."""
    with translation.override("en"):
        yield


# --- Builders (also used by the view tests) ----------------------------------------------------


def make_agency(code: str = "LOCAL", *, is_active: bool = True, name_ar: str = "الوحدات المحلية"):
    return Agency.objects.create(
        code=code, name_ar=name_ar, name_en=f"Agency {code}", is_active=is_active
    )


def add_schedule(service: Service, start: date, fees) -> FeeSchedule:
    """`fees`: (code, kind, amount or None, agency or None), in order."""
    schedule = FeeSchedule.objects.create(service=service, effective_from=start)
    for position, (code, kind, amount, agency) in enumerate(fees, start=1):
        FeeComponent.objects.create(
            schedule=schedule,
            code=code,
            kind=kind,
            amount=amount,
            agency=agency,
            position=position,
            name_ar=code,
            name_en=code,
        )
    return schedule


def make_fixed(
    code: str = "LA-101",
    *,
    agency: Agency | None = None,
    name_ar: str = "تجديد رخصة بناء",
    name_en: str = "Building licence renewal",
    start: date = START,
    fee: int = 15_000,
    stamp_to: Agency | None = None,
    is_active: bool = True,
) -> Service:
    """A fixed service: an agency fee, a stamp duty (to `stamp_to`) and 5 EGP commission."""
    service = Service.objects.create(
        code=code,
        agency=agency or make_agency(),
        name_ar=name_ar,
        name_en=name_en,
        budget_item="1/2/3/11",
        is_active=is_active,
    )
    add_schedule(
        service,
        start,
        [
            ("agency_fee", Kind.AGENCY_FEE, fee, None),
            ("stamp", Kind.STAMP_DUTY, 1_000, stamp_to),
            ("post", Kind.COMMISSION, 500, None),
        ],
    )
    return service


def make_variable(
    code: str = "EL-201",
    *,
    agency: Agency | None = None,
    name_ar: str = "سداد فاتورة كهرباء",
    name_en: str = "Electricity bill payment",
    start: date = START,
    min_amount: int = 100,
    max_amount: int = 2_000_000,
) -> Service:
    """A variable service: the amount due plus 2 EGP commission."""
    service = Service.objects.create(
        code=code,
        agency=agency or make_agency("ELEC"),
        name_ar=name_ar,
        name_en=name_en,
        budget_item="2/1/1/01",
        amount_kind=Service.AmountKind.VARIABLE,
        min_amount=min_amount,
        max_amount=max_amount,
        requires_citizen=False,
    )
    add_schedule(
        service,
        start,
        [("principal", Kind.PRINCIPAL, None, None), ("post", Kind.COMMISSION, 200, None)],
    )
    return service


def lines_of(quote: Quote) -> list[tuple[str, int]]:
    return [(component.code, amount) for component, amount in quote.lines]


# --- Quotes ------------------------------------------------------------------------------------


def test_a_fixed_service_is_quoted_line_by_line_from_its_schedule():
    service = make_fixed()

    quote = service_quote(service=service, amount=None, day=DAY)

    assert lines_of(quote) == [("agency_fee", 15_000), ("stamp", 1_000), ("post", 500)]
    assert quote.total == 16_500
    assert quote.schedule == service.schedules.get()
    assert quote.service == service


def test_a_fixed_service_takes_no_typed_amount():
    with pytest.raises(InvalidAmount, match="fixed fees"):
        service_quote(service=make_fixed(), amount=16_500, day=DAY)


def test_a_variable_service_charges_the_typed_amount_plus_its_fees():
    quote = service_quote(service=make_variable(), amount=12_345, day=DAY)

    assert lines_of(quote) == [("principal", 12_345), ("post", 200)]
    assert quote.total == 12_545


def test_a_variable_service_needs_an_amount():
    with pytest.raises(InvalidAmount, match="Type the amount due"):
        service_quote(service=make_variable(), amount=None, day=DAY)


@pytest.mark.parametrize("amount", [0, -100, 99, 2_000_001])
def test_an_amount_outside_the_bounds_is_refused_with_the_bounds_in_pounds(amount):
    with pytest.raises(InvalidAmount) as refused:
        service_quote(service=make_variable(), amount=amount, day=DAY)

    assert str(refused.value) == "The amount due must be between 1.00 and 20,000.00 EGP."


@pytest.mark.parametrize("amount", [100, 2_000_000])
def test_the_bounds_themselves_are_accepted(amount):
    assert service_quote(service=make_variable(), amount=amount, day=DAY).total == amount + 200


@pytest.mark.parametrize("amount", [150.0, "150", True])
def test_amounts_are_whole_piastres_never_floats_or_text(amount):
    with pytest.raises(InvalidAmount, match="whole piastres"):
        service_quote(service=make_variable(), amount=amount, day=DAY)


def test_an_inactive_service_is_refused():
    with pytest.raises(InvalidState, match="no longer offered"):
        service_quote(service=make_fixed(is_active=False), amount=None, day=DAY)


def test_a_service_of_an_inactive_agency_is_refused():
    agency = make_agency("GONE", is_active=False)

    with pytest.raises(InvalidState, match="not taking payments"):
        service_quote(service=make_fixed(agency=agency), amount=None, day=DAY)


def test_a_fee_owed_to_an_inactive_agency_is_refused():
    ministry = make_agency("MOF", is_active=False, name_ar="وزارة المالية")

    with pytest.raises(InvalidState, match="not taking payments"):
        service_quote(service=make_fixed(stamp_to=ministry), amount=None, day=DAY)


def test_a_variable_service_without_an_amount_due_line_is_refused():
    service = make_variable()
    service.schedules.get().components.filter(kind=Kind.PRINCIPAL).delete()

    with pytest.raises(InvalidState, match="not set up correctly"):
        service_quote(service=service, amount=5_000, day=DAY)


def test_a_quote_reads_the_service_its_schedule_and_its_fees_in_three_queries(
    django_assert_num_queries,
):
    service_id = make_fixed().pk
    service = Service.objects.get(pk=service_id)

    with django_assert_num_queries(3):
        quote = service_quote(service=service, amount=None, day=DAY)
        component_fields = [(c.code, c.agency_id, c.schedule.service_id) for c, _ in quote.lines]

    assert len(component_fields) == 3


# --- Effective dates ---------------------------------------------------------------------------


@pytest.fixture
def fee_change():
    """Building licence renewal: 150 EGP from January, 200 EGP from July."""
    service = make_fixed(fee=15_000)
    add_schedule(
        service,
        date(2026, 7, 1),
        [
            ("agency_fee", Kind.AGENCY_FEE, 20_000, None),
            ("stamp", Kind.STAMP_DUTY, 1_000, None),
            ("post", Kind.COMMISSION, 500, None),
        ],
    )
    return service


@pytest.mark.parametrize(
    ("day", "total"),
    [
        (date(2026, 1, 1), 16_500),
        (date(2026, 6, 30), 16_500),
        (date(2026, 7, 1), 21_500),
        (date(2027, 2, 1), 21_500),
    ],
)
def test_a_fee_change_gives_the_old_fee_before_its_date_and_the_new_one_from_it(
    fee_change, day, total
):
    quote = service_quote(service=fee_change, amount=None, day=day)

    assert quote.total == total
    assert quote.schedule == schedule_at(service=fee_change, day=day)


def test_a_fee_change_leaves_the_earlier_schedule_and_its_quotes_as_they_were():
    service = make_fixed(fee=15_000)
    before = service_quote(service=service, amount=None, day=date(2026, 6, 30))
    rows_before = list(FeeComponent.objects.values_list("pk", "schedule", "code", "amount"))

    add_schedule(service, date(2026, 7, 1), [("agency_fee", Kind.AGENCY_FEE, 20_000, None)])

    after = service_quote(service=service, amount=None, day=date(2026, 6, 30))
    assert (after.schedule, after.total) == (before.schedule, before.total)
    assert [c.pk for c, _ in after.lines] == [c.pk for c, _ in before.lines]
    old_rows = FeeComponent.objects.filter(schedule=before.schedule)
    assert list(old_rows.values_list("pk", "schedule", "code", "amount")) == rows_before
    assert FeeSchedule.objects.filter(service=service).count() == 2


def test_a_day_before_the_first_schedule_has_no_fees():
    service = make_fixed(start=START)

    with pytest.raises(InvalidState) as refused:
        schedule_at(service=service, day=date(2025, 12, 31))

    assert str(refused.value) == "This service has no fees in force on that day."
    with pytest.raises(InvalidState, match="no fees in force"):
        service_quote(service=service, amount=None, day=date(2025, 12, 31))


# --- Ledger accounts ---------------------------------------------------------------------------


def _component(service: Service, code: str) -> FeeComponent:
    return FeeComponent.objects.get(schedule__service=service, code=code)


def test_an_agency_fee_is_owed_to_the_services_agency_per_service_item_and_branch(branch_a):
    service = make_fixed()

    account = component_account(_component(service, "agency_fee"), service, branch_a)

    assert (account.kind, account.key, account.branch) == (
        AccountKind.PAYABLE,
        "payable:LOCAL:LA-101:agency_fee:A0001",
        branch_a,
    )


def test_a_stamp_duty_is_owed_to_the_agency_named_on_the_fee(branch_a):
    service = make_fixed(stamp_to=make_agency("MOF", name_ar="وزارة المالية"))

    account = component_account(_component(service, "stamp"), service, branch_a)

    assert (account.kind, account.key) == (AccountKind.PAYABLE, "payable:MOF:LA-101:stamp:A0001")


def test_commission_is_the_networks_revenue_kept_per_branch(branch_a):
    service = make_fixed()

    account = component_account(_component(service, "post"), service, branch_a)

    assert (account.kind, account.key, account.branch) == (
        AccountKind.COMMISSION,
        "commission:post:A0001",
        branch_a,
    )


def test_asking_twice_for_a_components_account_gives_the_same_account(branch_a):
    service = make_fixed()
    component = _component(service, "agency_fee")

    first = component_account(component, service, branch_a)
    second = component_account(component, service, branch_a)

    assert first.pk == second.pk
    assert Account.objects.filter(key="payable:LOCAL:LA-101:agency_fee:A0001").count() == 1


def test_the_pricing_and_account_rules_read_and_write_nothing_once_the_fees_are_loaded(
    branch_a, django_assert_num_queries
):
    """What the national seed calls per row: pure, the same answers as the quote and accounts."""
    service_id = make_fixed(stamp_to=make_agency("MOF", name_ar="وزارة المالية")).pk
    service = Service.objects.select_related("agency").get(pk=service_id)
    components = list(
        FeeComponent.objects.filter(schedule__service=service).select_related("agency")
    )

    with django_assert_num_queries(0):
        lines = quote_lines(service=service, components=components, amount=None)
        keys = [component_account_key(component, service, branch_a) for component, _ in lines]
        agencies = [component_agency(component, service) for component, _ in lines]

    assert lines == service_quote(service=service, amount=None, day=DAY).lines
    assert [(component.code, amount) for component, amount in lines] == [
        ("agency_fee", 15_000),
        ("stamp", 1_000),
        ("post", 500),
    ]
    assert keys == [
        (AccountKind.PAYABLE, "payable:LOCAL:LA-101:agency_fee:A0001"),
        (AccountKind.PAYABLE, "payable:MOF:LA-101:stamp:A0001"),
        (AccountKind.COMMISSION, "commission:post:A0001"),
    ]
    assert [agency and agency.code for agency in agencies] == ["LOCAL", "MOF", None]
    assert not Account.objects.filter(kind__in=[AccountKind.PAYABLE, AccountKind.COMMISSION])


def test_a_fee_of_another_service_is_refused(branch_a):
    service = make_fixed()
    other = make_variable()

    with pytest.raises(InvalidState, match="does not belong"):
        component_account(_component(other, "post"), service, branch_a)


# --- Reference fields --------------------------------------------------------------------------


@pytest.fixture
def bill_service():
    service = make_variable()
    ReferenceField.objects.create(
        service=service,
        code="bill_no",
        label_ar="رقم الفاتورة",
        label_en="Bill number",
        pattern=r"^[0-9]{12}$",
        hint_en="12 digits, at the top of the bill",
        position=1,
    )
    ReferenceField.objects.create(
        service=service,
        code="meter",
        label_ar="رقم العداد",
        label_en="Meter number",
        pattern=r"^[0-9]{6}$",
        position=2,
    )
    ReferenceField.objects.create(
        service=service,
        code="note",
        label_ar="ملاحظة",
        label_en="Note",
        pattern=r"^.{1,40}$",
        required=False,
        position=3,
    )
    return service


def test_references_are_cleaned_and_keyed_by_code(bill_service):
    data = {"bill_no": " 123456789012 ", "meter": "654321", "note": "", "extra": "ignored"}

    assert references_clean(service=bill_service, data=data) == {
        "bill_no": "123456789012",
        "meter": "654321",
    }


def test_digits_typed_in_arabic_are_normalised(bill_service):
    data = {"bill_no": "١٢٣٤٥٦٧٨٩٠١٢", "meter": "۶۵۴۳۲۱"}

    cleaned = references_clean(service=bill_service, data=data)

    assert cleaned == {"bill_no": "123456789012", "meter": "654321"}


def test_every_bad_field_is_reported_at_once_with_its_label_and_hint(bill_service):
    data = {"bill_no": "12345", "meter": "   "}

    with pytest.raises(ValidationError) as refused:
        references_clean(service=bill_service, data=data)

    errors = refused.value.error_dict
    assert set(errors) == {"bill_no", "meter"}
    assert errors["bill_no"][0].code == "invalid"
    assert errors["bill_no"][0].message == (
        "Bill number is not valid. 12 digits, at the top of the bill"
    )
    assert errors["meter"][0].code == "required"
    assert errors["meter"][0].message == "Meter number is required."


def test_a_missing_required_reference_is_refused(bill_service):
    with pytest.raises(ValidationError) as refused:
        references_clean(service=bill_service, data={"meter": "654321"})

    assert list(refused.value.error_dict) == ["bill_no"]


def test_a_reference_must_match_the_whole_pattern(bill_service):
    data = {"bill_no": "123456789012\n3", "meter": "654321"}

    with pytest.raises(ValidationError) as refused:
        references_clean(service=bill_service, data=data)

    assert list(refused.value.error_dict) == ["bill_no"]


def test_a_broken_pattern_in_the_catalog_is_reported_not_crashed_on(bill_service):
    ReferenceField.objects.filter(code="meter").update(pattern="[0-9")

    with pytest.raises(InvalidState, match="check is broken"):
        references_clean(service=bill_service, data={"bill_no": "123456789012", "meter": "1"})


# --- Search ------------------------------------------------------------------------------------


@pytest.fixture
def catalog():
    local = make_agency("LOCAL")
    return {
        "building": make_fixed("LA-101", agency=local),
        "occupancy": make_fixed(
            "LA-104",
            agency=local,
            name_ar="تجديد رخصة إشغالات",
            name_en="Occupancy licence renewal",
        ),
        "cemetery": make_fixed(
            "LA-108", agency=local, name_ar="حجز مقبرة", name_en="Cemetery plot reservation"
        ),
        "hospital": make_fixed(
            "LA-110", agency=local, name_ar="رسوم مستشفى", name_en="Hospital fees"
        ),
        "electricity": make_variable("EL-201"),
    }


def codes(services) -> list[str]:
    return [service.code for service in services]


@pytest.mark.parametrize(
    "query",
    [
        "اشغالات",  # typed without the hamza
        "إشغالات",
        "إِشْغَالَات",  # with tashkeel
        "رخصه اشغالات",  # taa marbuta typed as haa
        "  اشغالات  ",
    ],
)
def test_arabic_search_finds_a_service_however_the_hamza_and_taa_are_typed(catalog, query):
    assert codes(services_search(query, day=DAY)) == ["LA-104"]


def test_arabic_search_folds_alef_maqsura(catalog):
    assert codes(services_search("مستشفي", day=DAY)) == ["LA-110"]


def test_every_word_must_match_in_any_order(catalog):
    assert codes(services_search("رخصة تجديد", day=DAY)) == ["LA-101", "LA-104"]
    assert codes(services_search("تجديد مقبرة", day=DAY)) == []


def test_english_search_ignores_case(catalog):
    assert codes(services_search("CEMETERY plot", day=DAY)) == ["LA-108"]
    assert codes(services_search("licence", day=DAY)) == ["LA-101", "LA-104"]


def test_search_by_code_puts_the_exact_code_first(catalog):
    make_fixed("LA-1010", agency=catalog["building"].agency, name_en="Another LA-101 thing")

    assert codes(services_search("la-101", day=DAY)) == ["LA-101", "LA-1010"]
    assert codes(services_search("LA-١٠٤", day=DAY)) == ["LA-104"]


def test_inactive_services_and_agencies_and_services_without_fees_in_force_are_left_out(catalog):
    Service.objects.filter(code="LA-101").update(is_active=False)
    make_fixed("ZZ-1", agency=make_agency("GONE", is_active=False), name_en="Closed licence")
    make_fixed(
        "LA-199",
        agency=catalog["occupancy"].agency,
        name_en="Future licence",
        start=date(2026, 4, 1),
    )

    assert codes(services_search("licence", day=DAY)) == ["LA-104"]
    assert "LA-199" in codes(services_search("licence", day=date(2026, 4, 1)))


def test_an_empty_query_gives_the_first_services_by_code(catalog):
    assert codes(services_search("", day=DAY, limit=3)) == ["EL-201", "LA-101", "LA-104"]


def test_the_number_of_results_is_limited(catalog):
    assert codes(services_search("LA", day=DAY, limit=2)) == ["LA-101", "LA-104"]


def test_each_result_carries_the_fixed_fees_in_force_on_the_day(catalog):
    add_schedule(
        catalog["building"],
        date(2026, 7, 1),
        [("agency_fee", Kind.AGENCY_FEE, 20_000, None), ("post", Kind.COMMISSION, 500, None)],
    )

    march = {s.code: s.fees_total for s in services_search("", day=DAY)}
    july = {s.code: s.fees_total for s in services_search("", day=date(2026, 7, 1))}

    assert march["LA-101"] == 16_500
    assert july["LA-101"] == 20_500
    assert march["EL-201"] == 200  # the commission added to the bill


def test_a_search_takes_three_queries_whatever_the_catalog_size(catalog, django_assert_num_queries):
    for n in range(20):
        make_fixed(f"LB-{n:03d}", agency=catalog["building"].agency)

    with django_assert_num_queries(3):
        found = services_search("رخصة", day=DAY)
        agencies = [service.agency.name for service in found]

    assert len(agencies) == 10


def test_fold_brings_spelling_variants_to_one_form():
    assert fold("أإآٱ ة ى ؤ ئ") == "اااا ه ي و ي"
    assert fold("مُحَمَّد") == "محمد"
    assert fold("مــرور") == "مرور"
    assert fold("Building  LICENCE") == "building licence"


def test_a_service_is_found_by_its_code_active_or_not(catalog):
    Service.objects.filter(code="LA-108").update(is_active=False)

    assert service_by_code("LA-108") == catalog["cemetery"]
    assert service_by_code("NOPE") is None
