"""Head office's reconciliation pages: the runs, the form to run a day, a run's exceptions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from reconciliation.models import ReconciliationRun
from reconciliation.services import reconciliation_run
from tests.reconciliation.conftest import card_row

pytestmark = pytest.mark.django_db

LIST = "/reconciliation/"


@pytest.fixture
def card_run(fakes_set, pay_by_card, today):
    matched, differs, dropped = (pay_by_card(code) for code in ["AB12CD", "EF34GH", "NP78QR"])
    fakes_set.FakeAcquirer.rows = [
        card_row(matched),
        card_row(differs, amount=differs.total + 100),
        card_row(matched, external_reference="A0001-01:ZZ99ZZ"),
    ]
    return reconciliation_run(source="bankcard", business_day=today, by=None)


def test_the_urls_are_the_apps():
    assert reverse("reconciliation:list") == LIST
    assert reverse("reconciliation:detail", args=[7]) == "/reconciliation/7/"


def test_head_office_sees_the_latest_run_of_each_day(client, head_office, card_run, fakes_set):
    older = ReconciliationRun.objects.create(
        source="bankcard", business_day=card_run.business_day, matched=99
    )
    ReconciliationRun.objects.filter(pk=older.pk).update(
        ran_at=card_run.ran_at - timedelta(hours=1)
    )
    client.force_login(head_office)

    response = client.get(LIST)

    assert response.status_code == 200
    assert list(response.context["runs"]) == [card_run]
    page = response.content.decode()
    assert reverse("reconciliation:detail", args=[card_run.pk]) in page
    assert reverse("reconciliation:detail", args=[older.pk]) not in page
    assert 'name="business_day"' in page
    assert 'name="source"' in page


def test_head_office_runs_a_day_from_the_page(client, head_office, fakes_set, pay_by_card, today):
    payment = pay_by_card("AB12CD")
    fakes_set.FakeAcquirer.rows = [card_row(payment)]
    client.force_login(head_office)

    response = client.post(LIST, {"business_day": today.isoformat(), "source": "bankcard"})

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reconciliation:detail", args=[run.pk])
    assert (run.source, run.business_day, run.ran_by, run.matched) == (
        "bankcard",
        today,
        head_office,
        1,
    )


def test_a_provider_out_of_reach_is_said_on_the_page_and_nothing_is_saved(
    client, head_office, fakes_set, today
):
    fakes_set.FakeWallet.unavailable = True
    client.force_login(head_office)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.post(LIST, {"business_day": today.isoformat(), "source": "wallet"})

    assert response.status_code == 200
    assert "The wallet provider could not be reached" in response.content.decode()
    assert not ReconciliationRun.objects.exists()
    assert fakes_set.FakeWallet.asked == [today]


def test_a_day_to_come_is_refused_without_asking_the_provider(
    client, head_office, fakes_set, today
):
    client.force_login(head_office)

    response = client.post(
        LIST, {"business_day": (today + timedelta(days=1)).isoformat(), "source": "wallet"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["business_day"]
    assert fakes_set.FakeWallet.asked == []
    assert not ReconciliationRun.objects.exists()


def test_a_run_shows_its_exceptions_first_then_the_matched_count(client, head_office, card_run):
    client.force_login(head_office)

    response = client.get(reverse("reconciliation:detail", args=[card_run.pk]))

    assert response.status_code == 200
    kinds = [item.kind for item in response.context["exceptions"]]
    assert kinds == ["only_ours", "only_theirs", "amount_differs"]
    page = response.content.decode()
    # Both amounts of the line whose amounts differ, and its payment.
    differs = response.context["exceptions"][2]
    assert "54.50" in page and "55.50" in page
    assert differs.payment.reference in page
    assert page.index("A0001-01:NP78QR") < page.index("A0001-01:ZZ99ZZ")
    assert page.index("A0001-01:ZZ99ZZ") < page.index("A0001-01:EF34GH")
    assert page.index("A0001-01:EF34GH") < page.index('id="matched-title"')
    assert "A0001-01:AB12CD" not in page  # matched lines are counted, not listed


@pytest.mark.parametrize("persona", ["supervisor_a", "agent_a", "regional_a", "auditor"])
def test_anyone_but_head_office_gets_a_404(client, personas, card_run, persona, today):
    client.force_login(personas[persona])

    assert client.get(LIST).status_code == 404
    assert client.get(reverse("reconciliation:detail", args=[card_run.pk])).status_code == 404
    response = client.post(LIST, {"business_day": today.isoformat(), "source": "bankcard"})
    assert response.status_code == 404
    assert ReconciliationRun.objects.count() == 1


def test_a_visitor_is_sent_to_log_in(client, card_run):
    response = client.get(reverse("reconciliation:detail", args=[card_run.pk]))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_wrong_method_is_refused(client, head_office, card_run):
    client.force_login(head_office)

    assert client.put(LIST).status_code == 405
    assert client.post(reverse("reconciliation:detail", args=[card_run.pk])).status_code == 405


def test_a_run_that_does_not_exist_is_a_404(client, head_office, db):
    client.force_login(head_office)

    assert client.get(reverse("reconciliation:detail", args=[4242])).status_code == 404


def test_an_earlier_run_points_at_the_latest(client, head_office, card_run, fakes_set, today):
    later = reconciliation_run(source="bankcard", business_day=today, by=head_office)
    client.force_login(head_office)

    response = client.get(reverse("reconciliation:detail", args=[card_run.pk]))

    assert response.context["latest"] == later
    assert reverse("reconciliation:detail", args=[later.pk]) in response.content.decode()
