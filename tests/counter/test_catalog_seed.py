"""The demo catalog: idempotent, sellable today, with a fee history to show."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from agents.demo import DemoContext
from counter.demo_catalog import seed_catalog
from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service
from counter.selectors.catalog import services_search
from counter.services.catalog import (
    component_account,
    references_clean,
    schedule_at,
    service_quote,
)
from float_management.models import AccountKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_english():
    with translation.override("en"):
        yield


def _seed() -> io.StringIO:
    out = io.StringIO()
    seed_catalog(DemoContext(password="unused", stdout=out))
    return out


def _snapshot() -> dict:
    return {
        "agencies": list(Agency.objects.values_list("code", "name_ar", "is_active")),
        "services": list(
            Service.objects.values_list(
                "code", "agency__code", "amount_kind", "min_amount", "max_amount", "budget_item"
            )
        ),
        "schedules": list(
            FeeSchedule.objects.order_by("pk").values_list("pk", "service__code", "effective_from")
        ),
        "fees": list(
            FeeComponent.objects.order_by("pk").values_list(
                "pk", "schedule", "code", "kind", "amount", "agency__code"
            )
        ),
        "references": list(
            ReferenceField.objects.order_by("pk").values_list("pk", "service__code", "pattern")
        ),
    }


def test_seeding_twice_gives_the_same_rows_and_the_same_fees():
    _seed()
    first = _snapshot()

    _seed()

    assert _snapshot() == first
    assert len(first["agencies"]) == 3
    assert len(first["services"]) == 11
    assert len(first["schedules"]) == 12  # one each, and the building licence's fee change


def test_every_service_can_be_quoted_today():
    _seed()
    today = timezone.localdate()

    for service in Service.objects.select_related("agency"):
        amount = service.min_amount if service.amount_kind == Service.AmountKind.VARIABLE else None
        quote = service_quote(service=service, amount=amount, day=today)
        assert quote.schedule.effective_from <= today, service.code
        assert quote.total > 0, service.code
        assert service.reference_fields.exists(), service.code


def test_the_building_licence_costs_more_from_july():
    _seed()
    building = Service.objects.get(name_en="Building licence renewal")

    june = service_quote(service=building, amount=None, day=date(2026, 6, 30))
    july = service_quote(service=building, amount=None, day=date(2026, 7, 1))

    assert june.schedule != july.schedule
    assert june.total < july.total
    assert schedule_at(service=building, day=date(2026, 6, 30)).effective_from == date(2026, 1, 1)


def test_the_electricity_bill_takes_1_to_20000_pounds_and_a_12_digit_bill_number():
    _seed()
    bill = Service.objects.get(name_en="Electricity bill payment")

    assert (bill.min_amount, bill.max_amount, bill.requires_citizen) == (100, 2_000_000, False)
    assert references_clean(service=bill, data={"bill_no": "١٢٣٤٥٦٧٨٩٠١٢"}) == {
        "bill_no": "123456789012"
    }
    with pytest.raises(ValidationError):
        references_clean(service=bill, data={"bill_no": "12345678901"})


def test_stamp_duty_is_owed_to_the_ministry_of_finance_and_commission_is_the_posts(branch_a):
    _seed()
    building = Service.objects.get(name_en="Building licence renewal")
    quote = service_quote(service=building, amount=None, day=timezone.localdate())
    accounts = {c.kind: component_account(c, building, branch_a) for c, _ in quote.lines}

    stamp = accounts[FeeComponent.Kind.STAMP_DUTY]
    assert stamp.key == f"payable:MOF:{building.code}:stamp:A0001"
    assert accounts[FeeComponent.Kind.COMMISSION].kind == AccountKind.COMMISSION
    commission = next(amount for c, amount in quote.lines if c.kind == FeeComponent.Kind.COMMISSION)
    assert 200 <= commission <= 500


def test_the_occupancy_licence_is_found_without_its_hamza():
    _seed()

    found = services_search("اشغالات", day=timezone.localdate())

    assert [s.name_en for s in found] == ["Occupancy licence renewal"]


def test_seeding_says_what_it_made():
    assert "11 services" in _seed().getvalue()
