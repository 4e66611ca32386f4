"""Settlement pages through HTTP: who sees them, settling a day from the form, the files."""

import pytest
from django.conf import settings
from django.urls import reverse

from core.clock import local_today
from float_management.models import Transfer, TransferKind
from settlement.models import SettlementBatch
from settlement.services import settlement_run
from tests.scenario import (
    a_day,
    day_is_over,
    day_of,
    passport_service,
    payments_of_a_day,
    treasury,
)

# The scenario's fixtures (named here so pytest finds them).
SCENARIO_FIXTURES = (a_day, day_is_over, passport_service, payments_of_a_day, treasury)


ANON = "anonymous"
LOGIN = "login"


@pytest.fixture
def people(personas, supervisor_b):
    return {**personas, "supervisor_b": supervisor_b}


def _get(client, people, who, url):
    if who != ANON:
        client.force_login(people[who])
    return client.get(url)


def _english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


# --- Who sees what ---------------------------------------------------------------------------

EVERY_ONE = [
    ANON,
    "agent_a",
    "agent_b",
    "supervisor_a",
    "supervisor_b",
    "regional_a",
    "regional_other",
    "head_office",
    "auditor",
]
MATRIX = {
    **{
        name: {
            ANON: LOGIN,
            "agent_a": 403,
            "agent_b": 403,
            "supervisor_a": 403,
            "supervisor_b": 403,
            "regional_a": 403,
            "regional_other": 403,
            "head_office": 200,
            "auditor": 200,
        }
        for name in (
            "settlement_list",
            "settlement_confirmation",
            "settlement_csv",
        )
    },
    "settlement_run": dict.fromkeys(EVERY_ONE, 405),  # a POST form; GET is refused
}


@pytest.fixture
def settled(a_day, head_office, day_is_over):
    return settlement_run(business_day=day_of(a_day["bill"]), by=head_office)


def _args(name, settled):
    return {
        "settlement_confirmation": [settled[0].pk],
        "settlement_csv": [settled[0].pk],
    }.get(name, [])


@pytest.mark.parametrize("who", EVERY_ONE)
@pytest.mark.parametrize("name", list(MATRIX))
def test_each_page_answers_each_person_as_the_matrix_says(client, people, who, name, settled):
    url = reverse(name, args=_args(name, settled))
    response = _get(client, people, who, url)
    expected = MATRIX[name][who]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == expected


def test_unknown_batches_are_404(client, head_office):
    client.force_login(head_office)
    for url in (
        reverse("settlement_confirmation", args=[999_999]),
        reverse("settlement_csv", args=[999_999]),
    ):
        assert client.get(url).status_code == 404, url


def test_the_batch_list_refuses_post(client, head_office):
    client.force_login(head_office)
    assert client.post(reverse("settlement_list")).status_code == 405


# --- Settlement pages ---------------------------------------------------------------------


def test_head_office_settles_a_day_from_the_form(client, head_office, a_day, day_is_over):
    client.force_login(head_office)
    day = day_of(a_day["bill"]).isoformat()
    response = client.post(reverse("settlement_run"), {"business_day": day})
    assert response.status_code == 302
    # Back to the list, which says what the day's providers' files still disagree on.
    assert response["Location"] == f"{reverse('settlement_list')}?day={day}"
    assert [b.agency.code for b in SettlementBatch.objects.order_by("agency__code")] == [
        "LOCAL",
        "POWER",
        "TREASURY",
    ]
    # A second submit (a double click, a reload) posts nothing more.
    assert client.post(reverse("settlement_run"), {"business_day": day}).status_code == 302
    assert Transfer.objects.filter(kind=TransferKind.SETTLEMENT).count() == 3

    page = client.get(reverse("settlement_list"))
    assert len(page.context["batches"]) == 3
    assert page.context["form"] is not None


def test_the_form_shows_why_a_day_cannot_be_settled(
    client, head_office, payments_of_a_day, day_is_over
):
    _english(client)
    client.force_login(head_office)
    day = day_of(payments_of_a_day["bill"]).isoformat()
    response = client.post(reverse("settlement_run"), {"business_day": day})
    assert response.status_code == 200
    assert "still open or closing" in str(response.context["form"].non_field_errors())
    assert not SettlementBatch.objects.exists()


def test_the_form_refuses_today(client, head_office):
    client.force_login(head_office)
    response = client.post(reverse("settlement_run"), {"business_day": local_today().isoformat()})
    assert response.status_code == 200
    assert response.context["form"].errors["business_day"]


@pytest.mark.parametrize("who", ["auditor", "supervisor_a", "regional_a", "agent_a"])
def test_no_one_but_head_office_may_post_a_settlement(client, people, who, a_day, day_is_over):
    client.force_login(people[who])
    response = client.post(
        reverse("settlement_run"), {"business_day": day_of(a_day["bill"]).isoformat()}
    )
    assert response.status_code == 403
    assert not SettlementBatch.objects.exists()


def test_the_auditor_reads_the_batches_without_the_form(client, auditor, settled):
    client.force_login(auditor)
    page = client.get(reverse("settlement_list"))
    assert page.status_code == 200
    assert page.context["form"] is None
    assert b'action="' + reverse("settlement_run").encode() not in page.content


def test_the_batch_file_downloads_as_csv(client, head_office, settled):
    client.force_login(head_office)
    local = settled[0]
    response = client.get(reverse("settlement_csv", args=[local.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="settlement-LOCAL-{local.business_day.isoformat()}.csv"'
    )
    assert response["Cache-Control"].startswith("max-age=0")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("reference,service_code,budget_item,amount_egp")
    assert lines[-1] == "CONTROL,3,,203.00,,"


def test_the_confirmation_page_lists_batch_value_date_total_and_count(client, head_office, settled):
    client.force_login(head_office)
    power = settled[1]
    response = client.get(reverse("settlement_confirmation", args=[power.pk]))
    confirmation = response.context["confirmation"]
    assert (confirmation.total, confirmation.items_count, confirmation.value_date) == (
        12_300,
        1,
        power.value_date,
    )
    html = response.content.decode()
    assert "123.00" in html and power.value_date.isoformat() in html


def test_the_list_narrows_to_one_agencys_batches(client, auditor, settled):
    client.force_login(auditor)
    page = client.get(reverse("settlement_list"), {"agency": "POWER"})
    assert [b.agency.code for b in page.context["batches"]] == ["POWER"]
    assert len(client.get(reverse("settlement_list")).context["batches"]) == 3
