"""The catalog through HTTP: the agent's service search, and head office's admin pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from agents.demo import DemoContext
from counter.admin.catalog import ReferenceFieldForm
from counter.demo_catalog import seed_catalog
from counter.models import FeeSchedule, Service
from tests.counter.test_catalog_services import make_agency, make_fixed, make_variable

URL = reverse("counter:service_search")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def catalog(db):
    start = timezone.localdate() - timedelta(days=30)
    local = make_agency("LOCAL")
    return {
        "occupancy": make_fixed(
            "LA-104",
            agency=local,
            name_ar="تجديد رخصة إشغالات",
            name_en="Occupancy licence renewal",
            start=start,
        ),
        "building": make_fixed("LA-101", agency=local, start=start),
        "electricity": make_variable("EL-201", start=start),
    }


def test_typing_in_the_search_box_returns_only_the_result_list(client, agent_a, catalog):
    client.force_login(agent_a)

    response = client.get(URL, {"q": "اشغالات"}, headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<table")
    assert "<html" not in html and "<form" not in html and 'id="service-results"' not in html
    assert 'href="/counter/pay/LA-104/"' in html
    assert "تجديد رخصة إشغالات" in html
    assert "LA-101" not in html
    assert "HX-Request" in response["Vary"]


def test_without_htmx_the_whole_page_comes_with_a_working_form(client, agent_a, catalog):
    client.force_login(agent_a)

    response = client.get(URL, {"q": "licence"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert f'<form method="get" action="{URL}"' in html
    assert 'name="q" value="licence"' in html
    assert 'hx-trigger="input changed delay:150ms, search"' in html
    assert 'hx-target="#service-results"' in html
    assert [s.code for s in response.context["services"]] == ["LA-101", "LA-104"]


def test_each_result_shows_its_agency_and_its_fixed_total_or_variable(client, agent_a, catalog):
    client.force_login(agent_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    html = client.get(URL, {"q": ""}, headers=HTMX).content.decode()

    building = _row(html, "LA-101")
    assert "Building licence renewal" in building
    assert "Agency LOCAL" in building
    assert "165.00" in building
    electricity = _row(html, "EL-201")
    assert "Electricity bill payment" in electricity
    assert "variable + 2.00" in electricity


def _row(html: str, code: str) -> str:
    match = re.search(rf'<tr>\s*<td><a [^>]*href="/counter/pay/{code}/.*?</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def test_names_are_in_arabic_unless_english_is_chosen(client, agent_a, catalog):
    client.force_login(agent_a)

    html = client.get(URL, {"q": "LA-101"}, headers=HTMX).content.decode()

    assert "تجديد رخصة بناء" in _row(html, "LA-101")
    assert "Building licence renewal" not in html


def test_the_citizen_being_served_is_carried_to_the_payment_link(client, agent_a, catalog):
    client.force_login(agent_a)

    token = "MTIz:1xYLaK:" + "aB_-" * 10 + "xyz"  # the shape of counter.citizen_links' tokens

    html = client.get(URL, {"q": "LA-101", "citizen": token}).content.decode()

    assert f'href="/counter/pay/LA-101/?citizen={token.replace(":", "%3A")}"' in html
    assert f'<input type="hidden" name="citizen" value="{token}">' in html


def test_a_citizen_value_that_is_not_a_token_is_dropped(client, agent_a, catalog):
    client.force_login(agent_a)

    html = client.get(URL, {"q": "LA-101", "citizen": '"><script>x</script>'}).content.decode()

    assert 'href="/counter/pay/LA-101/"' in html
    assert "<script>x" not in html
    assert 'name="citizen"' not in html


def test_the_first_result_is_one_tab_away_from_the_search_box(client, agent_a, catalog):
    client.force_login(agent_a)

    html = client.get(URL, {"q": "licence"}).content.decode()

    after_box = html.split('id="service-q"', 1)[1]
    focusable = re.compile(
        r'<a\s[^>]*href=|<button\b|<select\b|<textarea\b|<input\b(?![^>]*type="hidden")'
    )
    next_stop = focusable.search(after_box)
    assert next_stop is not None
    assert re.match(r'<a [^>]*href="/counter/pay/LA-101/"', after_box[next_stop.start() :])


def test_a_search_without_results_says_so(client, agent_a, catalog):
    client.force_login(agent_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(URL, {"q": "passport"}, headers=HTMX)

    html = response.content.decode()
    assert "No service matches what you typed." in html
    assert "/counter/pay/" not in html


def test_an_inactive_service_is_not_offered(client, agent_a, catalog):
    Service.objects.filter(code="LA-104").update(is_active=False)
    client.force_login(agent_a)

    html = client.get(URL, {"q": "اشغالات"}, headers=HTMX).content.decode()

    assert "LA-104" not in html


def test_the_search_is_not_a_post(client, agent_a, catalog):
    client.force_login(agent_a)

    assert client.post(URL, {"q": "LA"}).status_code == 405


def test_an_anonymous_visitor_is_sent_to_log_in(client, catalog):
    response = client.get(URL, {"q": "LA"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_supervisor_may_not_search_the_counter_catalog(client, supervisor_a, catalog):
    client.force_login(supervisor_a)

    assert client.get(URL, {"q": "LA"}).status_code == 403


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("agent_a", 200),
        ("agent_b", 200),
        ("supervisor_a", 403),
        ("regional_a", 403),
        ("regional_other", 403),
        ("head_office", 403),
        ("auditor", 403),
    ],
)
def test_only_counter_agents_may_search(client, personas, catalog, persona, status):
    client.force_login(personas[persona])

    assert client.get(URL, {"q": "LA"}).status_code == status


# --- The catalog in the admin (head office) ----------------------------------------------------


@pytest.fixture
def seeded(db):
    seed_catalog(DemoContext(password="unused"))


@pytest.fixture
def staff(admin_client):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


def _schedule_post(service: Service, start, fees) -> dict:
    data = {
        "service": service.pk,
        "effective_from": start.isoformat(),
        "components-TOTAL_FORMS": len(fees),
        "components-INITIAL_FORMS": 0,
        "components-MIN_NUM_FORMS": 0,
        "components-MAX_NUM_FORMS": 1000,
    }
    for i, (code, kind, amount) in enumerate(fees):
        data |= {
            f"components-{i}-position": i,
            f"components-{i}-code": code,
            f"components-{i}-kind": kind,
            f"components-{i}-name_ar": code,
            f"components-{i}-name_en": code,
            f"components-{i}-amount": "" if amount is None else amount,
        }
    return data


def test_head_office_finds_the_catalog_in_the_admin(staff, seeded):
    for model in ["agency", "service", "feeschedule"]:
        assert staff.get(reverse(f"admin:counter_{model}_changelist")).status_code == 200
    found = staff.get(reverse("admin:counter_service_changelist"), {"q": "1/2/3/11"})
    assert [s.code for s in found.context["cl"].result_list] == ["LA-101"]
    service = Service.objects.get(code="LA-101")
    page = staff.get(reverse("admin:counter_service_change", args=[service.pk]))
    assert page.status_code == 200
    assert "licence_no" in page.content.decode()


def test_a_schedule_in_force_is_read_only_in_the_admin(staff, seeded):
    schedule = FeeSchedule.objects.get(service__code="LA-101", effective_from="2026-01-01")
    url = reverse("admin:counter_feeschedule_change", args=[schedule.pk])
    data = _schedule_post(schedule.service, schedule.effective_from, [])

    assert staff.get(url).status_code == 200  # viewable
    assert staff.post(url, data).status_code == 403
    fees = schedule.components.values_list("code", "amount")
    assert dict(fees) == {"local_fee": 15_000, "stamp": 1_000, "post": 500}


def test_a_fee_change_from_tomorrow_is_added_with_its_fees(staff, seeded):
    service = Service.objects.get(code="LA-102")
    tomorrow = timezone.localdate() + timedelta(days=1)
    fees = [("local_fee", "agency_fee", 35_000), ("post", "commission", 500)]

    response = staff.post(
        reverse("admin:counter_feeschedule_add"), _schedule_post(service, tomorrow, fees)
    )

    assert response.status_code == 302
    schedule = service.schedules.get(effective_from=tomorrow)
    assert dict(schedule.components.values_list("code", "amount")) == {
        "local_fee": 35_000,
        "post": 500,
    }


def test_a_fee_change_cannot_start_in_the_past(staff, seeded):
    service = Service.objects.get(code="LA-102")
    yesterday = timezone.localdate() - timedelta(days=1)

    response = staff.post(
        reverse("admin:counter_feeschedule_add"),
        _schedule_post(service, yesterday, [("local_fee", "agency_fee", 35_000)]),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["effective_from"] == [
        "A fee change starts today or later: past days keep the fees they had."
    ]
    assert service.schedules.count() == 1


@pytest.mark.parametrize(
    ("code", "fees", "error"),
    [
        ("EL-201", [("post", "commission", 200)], "exactly one “amount due” line"),
        ("LA-102", [("principal", "principal", None)], "no “amount due” line"),
        ("LA-102", [], "at least one fee"),
    ],
)
def test_a_schedule_must_fit_the_kind_of_its_service(staff, seeded, code, fees, error):
    service = Service.objects.get(code=code)
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = staff.post(
        reverse("admin:counter_feeschedule_add"), _schedule_post(service, tomorrow, fees)
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not service.schedules.filter(effective_from=tomorrow).exists()


def test_a_reference_pattern_must_be_a_valid_regular_expression():
    fields = {"code": "bill_no", "label_ar": "رقم", "label_en": "No", "position": 1}

    assert ReferenceFieldForm({**fields, "pattern": r"^[0-9]{12}$"}).is_valid()
    assert "pattern" in ReferenceFieldForm({**fields, "pattern": "[0-9"}).errors


def test_the_search_boxes_take_no_more_than_the_search_reads(client, agent_a, catalog):
    """A pasted page stays in the browser: daphne drops a request line over 16 KB unanswered,
    and the search reads only the first QUERY_MAX_LENGTH characters anyway."""
    from counter.views.catalog import QUERY_MAX_LENGTH

    client.force_login(agent_a)
    pages = [
        client.get(URL).content.decode(),
        client.get(reverse("counter:home")).content.decode(),
    ]
    boxes = [box for page in pages for box in re.findall(r'<input id="service-q2?"[^>]*>', page)]
    assert len(boxes) == 2
    for box in boxes:
        assert f'maxlength="{QUERY_MAX_LENGTH}"' in box, box
