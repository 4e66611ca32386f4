"""Log in, land on the role's page, language and direction, idle timeout, health."""

import time

import pytest
from django.urls import reverse

from agents.models import Branch, Counter, Profile


def _login(client, username, password="pass-for-tests"):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.parametrize(
    ("persona", "landing"),
    [
        ("agent_a", "/counter/"),
        ("supervisor_a", "/dashboard/branches/A0001/"),
        ("regional_a", "/dashboard/governorates/01/"),
        ("head_office", "/dashboard/nation/"),
        ("auditor", "/dashboard/nation/"),
    ],
)
def test_each_role_lands_on_its_own_home_page(client, personas, persona, landing):
    response = _login(client, personas[persona].username)
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == landing


def test_a_wrong_password_shows_the_form_again_with_a_message(client, agent_a):
    response = _login(client, "agent_a", "wrong")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_five_failed_logins_lock_the_account_even_with_the_right_password(client, agent_a):
    for _ in range(5):
        _login(client, "agent_a", "wrong")
    response = _login(client, "agent_a")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_ends_the_session(client, agent_a):
    client.force_login(agent_a)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("counter:home")).status_code == 302


def test_an_idle_session_is_logged_out(client, agent_a, settings):
    client.force_login(agent_a)
    assert client.get(reverse("counter:home")).status_code == 200
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT - 1
    session.save()
    response = client.get(reverse("counter:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_activity_keeps_the_session_alive(client, agent_a, settings):
    client.force_login(agent_a)
    client.get(reverse("counter:home"))
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT + 120
    session.save()
    assert client.get(reverse("counter:home")).status_code == 200
    assert client.session["last_seen"] >= int(time.time()) - 5


def test_pages_are_arabic_and_right_to_left_by_default(client, agent_a):
    client.force_login(agent_a)
    html = client.get(reverse("counter:home")).content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert "تسجيل الخروج" in html  # "Log out", from the compiled Arabic catalogue


def test_english_is_one_click_away_and_left_to_right(client, agent_a):
    client.force_login(agent_a)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/counter/"})
    assert response.status_code == 302
    html = client.get("/counter/").content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert "Log out" in html


def test_the_login_page_is_arabic_for_anonymous_visitors(client, db):
    html = client.get(reverse("login")).content.decode()
    assert 'dir="rtl"' in html
    assert "تسجيل الدخول" in html


def test_htmx_is_served_locally_with_the_csrf_header(client, agent_a):
    client.force_login(agent_a)
    html = client.get(reverse("counter:home")).content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "https://" not in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_healthz_reports_both_components(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "channel_layer": True}


def test_healthz_is_503_when_the_channel_layer_does_not_answer(client, db, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Nothing listens on port 1: the layer cannot answer.
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get(reverse("healthz"))
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["channel_layer"] is False
    assert response.json()["database"] is True


def test_healthz_is_503_when_the_database_does_not_answer(client, db, monkeypatch):
    from agents import views

    monkeypatch.setattr(views, "connection", None)  # any use of it fails
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": False, "channel_layer": True}


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_its_logins_work(client):
    import importlib

    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from agents.governorates import GOVERNORATES
    from tests.factories import governorate

    # Governorates and denominations come from data migrations, which a transactional
    # test run before this one (tests/agencies has some) flushed.
    for code, _name_ar, _name_en in GOVERNORATES:
        governorate(code)
    importlib.import_module(
        "float_management.migrations.0002_denominations_and_immutability"
    ).load_denominations(apps, None)

    call_command("seed_demo", password="demo-test-pass")
    first = (Branch.objects.count(), Counter.objects.count(), Profile.objects.count())
    users_first = set(get_user_model().objects.values_list("username", "password"))
    call_command("seed_demo", password="demo-test-pass")
    second = (Branch.objects.count(), Counter.objects.count(), Profile.objects.count())
    assert first == second
    assert set(get_user_model().objects.values_list("username", "password")) == users_first
    assert first[0] >= 3 and first[1] >= 6
    assert set(Profile.objects.values_list("role", flat=True)) == {
        "agent",
        "branch_supervisor",
        "regional_supervisor",
        "head_office",
        "auditor",
    }
    response = _login(client, "agent.01001.1", "demo-test-pass")
    assert response.status_code == 302
    assert client.get("/counter/").status_code == 200


def test_migrations_match_the_models(db):
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_an_english_browser_still_gets_arabic_until_the_person_switches(client, agent_a):
    client.force_login(agent_a)
    html = client.get(reverse("counter:home"), headers={"accept-language": "en-US,en"}).content
    assert b'<html lang="ar" dir="rtl">' in html
