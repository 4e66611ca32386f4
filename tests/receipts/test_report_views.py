"""Report pages through HTTP: who sees what, and in which format."""

import csv
import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from core.clock import local_today
from tests.scenario import (
    a_day,
    day_of,
    passport_service,
    payments_of_a_day,
    treasury,
)

# The scenario's fixtures (named here so pytest finds them).
SCENARIO_FIXTURES = (a_day, passport_service, payments_of_a_day, treasury)


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
    # agent_a's own session: the agent, and the supervisors whose scope holds branch A
    "report_session": {
        ANON: LOGIN,
        "agent_a": 200,
        "agent_b": 404,
        "supervisor_a": 200,
        "supervisor_b": 404,
        "regional_a": 200,
        "regional_other": 404,
        "head_office": 200,
        "auditor": 200,
    },
    "report_branch": {
        ANON: LOGIN,
        "agent_a": 403,
        "agent_b": 403,
        "supervisor_a": 200,
        "supervisor_b": 404,
        "regional_a": 200,
        "regional_other": 404,
        "head_office": 200,
        "auditor": 200,
    },
    "report_governorate": {
        ANON: LOGIN,
        "agent_a": 403,
        "agent_b": 403,
        "supervisor_a": 403,
        "supervisor_b": 403,
        "regional_a": 200,
        "regional_other": 404,
        "head_office": 200,
        "auditor": 200,
    },
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
        for name in ("report_national",)
    },
}


def _args(name, open_till, branch_a):
    return {
        "report_session": [open_till.pk],
        "report_branch": [branch_a.code],
        "report_governorate": [branch_a.governorate.code],
    }.get(name, [])


@pytest.mark.parametrize("who", EVERY_ONE)
@pytest.mark.parametrize("name", list(MATRIX))
def test_each_page_answers_each_person_as_the_matrix_says(
    client, people, who, name, open_till, branch_a, a_day
):
    url = reverse(name, args=_args(name, open_till, branch_a))
    response = _get(client, people, who, url)
    expected = MATRIX[name][who]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == expected


def test_unknown_branches_and_governorates_are_404(client, head_office):
    client.force_login(head_office)
    for url in (
        reverse("report_branch", args=["NOPE"]),
        reverse("report_governorate", args=["99"]),
        reverse("report_governorate", args=["88"]),  # born abroad: no branches
        reverse("report_session", args=[999_999]),
    ):
        assert client.get(url).status_code == 404, url


def test_an_agent_cannot_see_a_colleagues_session_of_the_same_branch(client, open_till, branch_a):
    from tests.factories import person

    colleague = person("agent_a2", "agent", branch=branch_a)
    client.force_login(colleague)
    assert client.get(reverse("report_session", args=[open_till.pk])).status_code == 404


def test_the_reports_refuse_post(client, head_office, open_till, branch_a):
    client.force_login(head_office)
    for url in (
        reverse("report_session", args=[open_till.pk]),
        reverse("report_branch", args=[branch_a.code]),
        reverse("report_national"),
    ):
        assert client.post(url).status_code == 405, url


# --- The session report page -----------------------------------------------------------------


def test_the_agent_prints_the_session_report_after_the_close(client, agent_a, a_day, open_till):
    _english(client)
    client.force_login(agent_a)
    response = client.get(reverse("report_session", args=[open_till.pk]))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.is_closed and report.variance == 0
    assert report.payments.total == 34_150
    html = response.content.decode()
    assert "Variance (counted − expected)" in html
    assert "@media print" in html
    assert "341.50" in html


def test_an_agent_sees_no_cash_figure_of_their_open_session(
    client, agent_a, payments_of_a_day, open_till
):
    """Blind means blind: float + top-ups + cash taken − drops is the hidden expected cash."""
    _english(client)
    client.force_login(agent_a)

    response = client.get(reverse("report_session", args=[open_till.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "report" not in response.context
    assert "1,000.00" not in html and "Cash payments" not in html and "341.50" not in html
    assert "once your count is in" in html


def test_a_supervisor_sees_an_open_sessions_figures(client, supervisor_a, open_till):
    _english(client)
    client.force_login(supervisor_a)
    html = client.get(reverse("report_session", args=[open_till.pk])).content.decode()
    assert "1,000.00" in html
    assert "Expected cash" not in html
    assert "not closed yet" in html


# --- Daily reports: HTML, CSV, PDF ----------------------------------------------------------


def test_the_branch_report_shows_the_day_asked_for(client, supervisor_a, payments_of_a_day):
    client.force_login(supervisor_a)
    url = reverse("report_branch", args=["A0001"])
    day = day_of(payments_of_a_day["bill"])
    response = client.get(url, {"day": day.isoformat()})
    assert response.status_code == 200
    assert response.context["report"].day == day
    assert response.context["report"].payments.total == 34_150

    yesterday = client.get(url, {"day": (day - timedelta(days=1)).isoformat()})
    assert yesterday.context["report"].payments.total == 0
    today = client.get(url)  # no day: today
    assert today.context["report"].day == local_today()


def test_a_day_typed_in_arabic_digits_is_understood(client, supervisor_a):
    client.force_login(supervisor_a)
    response = client.get(reverse("report_branch", args=["A0001"]), {"day": "٢٠٢٦-٠٣-١٥"})
    assert response.context["report"].day.isoformat() == "2026-03-15"


def test_a_bad_day_shows_the_error_and_no_report(client, regional_a):
    client.force_login(regional_a)
    url = reverse("report_governorate", args=["01"])
    response = client.get(url, {"day": "15/03/2026"})
    assert response.status_code == 200
    assert response.context["report"] is None
    assert response.context["form"].errors["day"]
    assert client.get(url, {"day": "yesterday", "format": "csv"}).status_code == 400
    assert client.get(url, {"format": "xlsx"}).status_code == 400


def test_the_csv_is_a_download_of_the_scope_and_day(client, regional_a, payments_of_a_day):
    client.force_login(regional_a)
    day = day_of(payments_of_a_day["bill"])
    response = client.get(
        reverse("report_governorate", args=["01"]), {"day": day.isoformat(), "format": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="daily-governorate-01-{day.isoformat()}.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "section"
    assert rows[-1] == ["total", "", "", "", "4", "341.50", "341.50", "0.00", "0.00", "0.00"]


@pytest.mark.parametrize("language", ["ar", "en"])
def test_the_pdf_is_a_pdf_in_either_language(client, auditor, payments_of_a_day, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(auditor)
    day = day_of(payments_of_a_day["bill"])
    response = client.get(reverse("report_national"), {"day": day.isoformat(), "format": "pdf"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="daily-nation-EG-{day.isoformat()}.pdf"'
    )
    assert response.content.startswith(b"%PDF")
    assert b"Amiri" in response.content  # the Arabic font is embedded


def test_the_branch_pdf_and_csv_of_an_empty_day_still_come_out(client, supervisor_a):
    client.force_login(supervisor_a)
    url = reverse("report_branch", args=["A0001"])
    assert client.get(url, {"format": "pdf"}).content.startswith(b"%PDF")
    assert client.get(url, {"format": "csv"})["Content-Type"] == "text/csv; charset=utf-8"
