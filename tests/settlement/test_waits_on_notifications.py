"""A day's batch for an agency waits until its system has confirmed the day's payments.

The scenario's day (tests/scenario.py) with the licence renewal integrated: LOCAL's
system is told of two standing renewals and of a voided one (its payment and its
void), four notifications. Until they are resolved LOCAL is held back; POWER and
TREASURY are settled.
"""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from agencies.models import Integration, Notification, NotificationStatus
from agencies.services import integrations_cache_clear
from settlement.models import SettlementBatch
from settlement.selectors import day_notification_exceptions
from settlement.services import SettlementHeld, settlement_run
from tests.scenario import (
    a_day,
    day_is_over,
    day_of,
    passport_service,
    payments_of_a_day,
    treasury,
)

SCENARIO_FIXTURES = (a_day, day_is_over, passport_service, payments_of_a_day, treasury)


@pytest.fixture(autouse=True)
def _integrations_forgotten():
    # The integrations are cached per process; a test's rolled-back rows must not linger.
    integrations_cache_clear()
    yield
    integrations_cache_clear()


@pytest.fixture
def renewals_integrated(fixed_service):
    return Integration.objects.create(service=fixed_service, inquire_first=False)


@pytest.fixture
def integrated_day(renewals_integrated, a_day):
    return a_day


def _acknowledge_all():
    Notification.objects.update(
        status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), agency_txn_id="T1"
    )


def _codes(batches):
    return [batch.agency.code for batch in batches]


def test_the_day_writes_four_notifications_to_the_integrated_agency(integrated_day):
    assert Notification.objects.filter(agency__code="LOCAL").count() == 4
    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}


def test_an_agency_its_system_has_not_confirmed_is_held_and_the_others_are_settled(
    integrated_day, head_office, day_is_over
):
    day = day_of(integrated_day["bill"])
    with pytest.raises(SettlementHeld) as held:
        settlement_run(business_day=day, by=head_office)
    assert [(agency.code, n) for agency, n in held.value.held] == [("LOCAL", 4)]
    assert _codes(held.value.batches) == ["POWER", "TREASURY"]
    assert _codes(SettlementBatch.objects.order_by("agency__code")) == ["POWER", "TREASURY"]


def test_an_unknown_outcome_holds_the_batch_as_a_pending_one_does(
    integrated_day, head_office, day_is_over
):
    _acknowledge_all()
    first = Notification.objects.order_by("pk").first()
    Notification.objects.filter(pk=first.pk).update(
        status=NotificationStatus.UNKNOWN, acknowledged_at=None, attempts=3
    )
    with pytest.raises(SettlementHeld) as held:
        settlement_run(business_day=day_of(integrated_day["bill"]), by=head_office)
    assert [(agency.code, n) for agency, n in held.value.held] == [("LOCAL", 1)]


def test_once_every_notification_is_resolved_running_the_day_again_settles_the_agency(
    integrated_day, head_office, day_is_over
):
    day = day_of(integrated_day["bill"])
    with pytest.raises(SettlementHeld):
        settlement_run(business_day=day, by=head_office)
    _acknowledge_all()
    # A refusal is resolved: the agency said no, the refund follows its own path.
    refused = Notification.objects.order_by("pk").first()
    Notification.objects.filter(pk=refused.pk).update(
        status=NotificationStatus.REFUSED, acknowledged_at=None, last_error="bill already paid"
    )
    batches = settlement_run(business_day=day, by=head_office)
    assert _codes(batches) == ["LOCAL", "POWER", "TREASURY"]
    assert SettlementBatch.objects.count() == 3


def test_a_day_with_every_notification_acknowledged_settles_at_once(
    integrated_day, head_office, day_is_over
):
    _acknowledge_all()
    batches = settlement_run(business_day=day_of(integrated_day["bill"]), by=head_office)
    assert _codes(batches) == ["LOCAL", "POWER", "TREASURY"]


def test_the_exceptions_are_the_unresolved_and_the_refused_ones(integrated_day):
    _acknowledge_all()
    first, second, *_ = Notification.objects.order_by("pk")
    Notification.objects.filter(pk=first.pk).update(
        status=NotificationStatus.REFUSED, acknowledged_at=None
    )
    Notification.objects.filter(pk=second.pk).update(
        status=NotificationStatus.PENDING, acknowledged_at=None
    )
    listed = day_notification_exceptions(day_of(integrated_day["bill"]))
    assert [(n.pk, n.status) for n in listed] == [(first.pk, "refused"), (second.pk, "pending")]


def test_the_form_settles_the_others_and_the_page_lists_what_the_held_one_waits_for(
    client, integrated_day, head_office, day_is_over
):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(head_office)
    renewal = integrated_day["renewals"][0]
    Notification.objects.filter(payment=renewal).update(attempts=5, last_error="timeout after 10 s")
    day = day_of(integrated_day["bill"]).isoformat()
    response = client.post(reverse("settlement_run"), {"business_day": day})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('settlement_list')}?day={day}"
    assert _codes(SettlementBatch.objects.order_by("agency__code")) == ["POWER", "TREASURY"]

    page = client.get(response["Location"])
    html = page.content.decode()
    with override("en"):
        assert "Not settled on" in html and "LOCAL (4)" in html  # the message
        assert "Not confirmed by the agencies" in html
    assert len(page.context["unconfirmed"]) == 4
    assert renewal.reference in html
    assert "timeout after 10 s" in html
    assert html.count('data-status="pending"') == 4


def test_the_page_says_so_when_every_agency_has_confirmed(
    client, integrated_day, head_office, day_is_over
):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(head_office)
    _acknowledge_all()
    day = day_of(integrated_day["bill"]).isoformat()
    page = client.get(f"{reverse('settlement_list')}?day={day}")
    assert page.context["unconfirmed"] == []
    assert "system has confirmed the day's payments" in page.content.decode()
