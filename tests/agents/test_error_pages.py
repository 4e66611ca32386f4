"""Error pages as production shows them (DEBUG off): in the layout, in the person's language."""

import pytest
from django.test import Client
from django.urls import reverse

from counter.models import Citizen

ENGLISH = {"django_language": "en"}


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


def _in_english(client):
    client.cookies.load(ENGLISH)
    return client


@pytest.mark.django_db
def test_an_unknown_address_is_a_404_in_the_layout_in_arabic_by_default(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert '<html lang="ar" dir="rtl">' in html
    assert 'class="topbar"' in html
    assert "لا يوجد في هذا العنوان شيء متاح لك." in html
    assert '<a href="/">' in html


@pytest.mark.django_db
def test_an_unknown_address_is_a_404_in_english_when_the_person_chose_english(client):
    response = _in_english(client).get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert '<html lang="en" dir="ltr">' in html
    assert "There is nothing at this address that you can see." in html


def test_a_page_of_another_role_is_a_403_in_the_layout(client, supervisor_a):
    client.force_login(supervisor_a)
    response = _in_english(client).get(reverse("counter:home"))
    html = response.content.decode()
    assert response.status_code == 403
    assert 'class="topnav"' in html
    assert "Your role does not give access to this page." in html


@pytest.mark.django_db
def test_an_expired_form_is_a_403_in_the_layout_that_says_what_to_do(agent_a):
    client = _in_english(Client(enforce_csrf_checks=True))
    response = client.post(reverse("login"), {"username": "agent_a", "password": "x"})
    html = response.content.decode()
    assert response.status_code == 403
    assert '<html lang="en" dir="ltr">' in html
    assert 'class="topbar"' in html
    assert "This form has expired" in html
    assert "reload the page and try again" in html
    assert "CSRF cookie not set." in html  # Django's reason, for support


@pytest.mark.urls("tests.agents.error_urls")
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cookies", "lang", "direction"), [({}, "ar", "rtl"), (ENGLISH, "en", "ltr")]
)
def test_a_bug_is_a_500_in_the_layout_in_the_persons_language(cookies, lang, direction):
    client = Client(raise_request_exception=False)
    client.cookies.load(cookies)
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert [t.name for t in response.templates][0] == "500.html"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    assert 'class="topbar"' in html
    assert 'href="/static/css/app.css"' in html
    assert '<a href="/">' in html


@pytest.mark.urls("tests.agents.error_urls")
@pytest.mark.django_db
def test_the_500_page_says_in_english_that_nothing_half_done_was_recorded():
    client = _in_english(Client(raise_request_exception=False))
    html = client.get("/boom/").content.decode()
    assert "A system error occurred. Nothing half-done was recorded" in html
    assert "حدث خطأ" not in html


def test_a_huge_paste_into_the_national_id_is_a_400_in_the_layout_that_changes_nothing(
    client, agent_a, settings
):
    client.force_login(agent_a)
    too_much = "2" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = _in_english(client).post(
        reverse("counter:citizen_new"),
        {"national_id": too_much, "name_ar": "محمد", "mobile": "01001234567", "consent": "on"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'class="topnav"' in html  # the agent keeps their navigation
    assert "What you sent is too large. Nothing was changed" in html
    assert not Citizen.objects.exists()


def test_a_huge_paste_is_refused_in_arabic_by_default(client, agent_a, settings):
    client.force_login(agent_a)
    too_much = "2" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post(reverse("counter:citizen_new"), {"national_id": too_much})
    assert response.status_code == 400
    assert '<html lang="ar" dir="rtl">' in response.content.decode()


@pytest.mark.django_db
def test_a_request_for_another_host_is_a_400_in_the_layout(client):
    response = _in_english(client).get("/", headers={"host": "counters.evil.example"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'class="topbar"' in html
    assert "The page could not understand this request. Nothing was changed." in html
