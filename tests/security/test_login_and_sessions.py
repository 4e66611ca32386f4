"""Logging in, staying in, and being put out: throttling, idle expiry, logout, deactivation.

Login answers the same for an unknown username, a wrong password and a
deactivated account, also once locked out, so usernames cannot be found by trying.
"""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from agents.models import Profile

PASSWORD = "pass-for-tests"  # tests.factories.UserFactory


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def _shape(response) -> tuple[int, str]:
    """What a visitor can compare: the status and the page without its per-request parts."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)
    body = re.sub(r'"X-CSRFToken": "[^"]*"', "", body)
    body = re.sub(r'name="username"[^>]*value="[^"]*"', 'name="username"', body)
    return response.status_code, body


# --- Same answer, whoever tries ---------------------------------------------------------


def test_unknown_username_wrong_password_and_deactivated_account_answer_alike(
    client, agent_a, supervisor_a
):
    supervisor_a.is_active = False
    supervisor_a.save(update_fields=["is_active"])
    unknown = _login(Client(), "nobody_here", "whatever-123")
    wrong = _login(Client(), "agent_a", "whatever-123")
    deactivated = _login(Client(), "supervisor_a", PASSWORD)
    assert unknown.status_code == wrong.status_code == deactivated.status_code == 200
    errors = {tuple(r.context["form"].non_field_errors()) for r in (unknown, wrong, deactivated)}
    assert len(errors) == 1, errors
    assert _shape(unknown) == _shape(wrong) == _shape(deactivated)


def test_the_right_password_logs_in(client, agent_a):
    response = _login(client, "agent_a", PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("counter:home")).status_code == 200


# --- Throttling -------------------------------------------------------------------------


def test_a_username_is_locked_after_the_failure_limit_even_with_the_right_password(
    settings, agent_a
):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "agent_a", "wrong-one-123").status_code == 200
    locked = _login(client, "agent_a", "wrong-one-123")
    assert locked.status_code == 429
    assert _login(Client(), "agent_a", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_username_not_per_address(settings, agent_a, agent_b):
    """Counters of one office share an address: one clumsy agent locks only themselves."""
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "agent_a", "wrong-one-123")
    assert _login(Client(), "agent_b", PASSWORD).status_code == 302


def test_the_lockout_page_does_not_tell_whether_the_username_exists(settings, agent_a):
    answers = {}
    for username in ("agent_a", "nobody_here"):
        client = Client()
        statuses = [
            _login(client, username, "wrong-one-123").status_code
            for _ in range(settings.AXES_FAILURE_LIMIT + 1)
        ]
        answers[username] = (statuses, _shape(_login(Client(), username, "again-123")))
    assert answers["agent_a"] == answers["nobody_here"]
    assert answers["agent_a"][0][-1] == 429


# --- Idle expiry, logout, deactivation -------------------------------------------------------


def _idle(client, seconds):
    session = client.session
    session["last_seen"] = int(time.time()) - seconds
    session.save()


def test_a_session_idle_past_the_timeout_is_logged_out(settings, agent_a):
    settings.SESSION_IDLE_TIMEOUT = 600
    client = Client()
    client.force_login(agent_a)
    old_cookie = client.cookies["sessionid"].value
    _idle(client, 601)
    response = client.get(reverse("counter:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    # The old session is gone, not merely forgotten by this client.
    stale = Client()
    stale.cookies["sessionid"] = old_cookie
    assert stale.get(reverse("counter:home")).status_code == 302


def test_a_session_used_within_the_timeout_stays(settings, agent_a):
    settings.SESSION_IDLE_TIMEOUT = 600
    client = Client()
    client.force_login(agent_a)
    _idle(client, 599)
    assert client.get(reverse("counter:home")).status_code == 200


def test_a_login_stamps_the_session_at_once(agent_a):
    """So a cookie taken from a login never followed by a page still expires."""
    client = Client()
    assert _login(client, "agent_a", PASSWORD).status_code == 302
    assert abs(client.session["last_seen"] - time.time()) < 5


def test_a_post_after_the_timeout_does_nothing(settings, agent_a, counter_a):
    from float_management.models import TillSession

    settings.SESSION_IDLE_TIMEOUT = 600
    client = Client()
    client.force_login(agent_a)
    _idle(client, 601)
    response = client.post(
        reverse("float:open"),
        {"counter": counter_a.pk, "amount": "500", "idempotency_key": "a" * 32},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not TillSession.objects.exists()


def test_logging_out_kills_the_old_session_cookie(agent_a):
    client = Client()
    client.force_login(agent_a)
    old_cookie = client.cookies["sessionid"].value
    assert client.post(reverse("logout")).status_code == 302
    stale = Client()
    stale.cookies["sessionid"] = old_cookie
    response = stale.get(reverse("counter:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_logging_out_by_get_is_refused_and_keeps_the_session(agent_a):
    client = Client()
    client.force_login(agent_a)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("counter:home")).status_code == 200


@pytest.mark.parametrize(
    ("who", "url_name", "args"),
    [
        ("agent_a", "counter:home", ()),
        ("supervisor_a", "float:branch", ()),
        ("regional_a", "dashboard:governorate", ("01",)),
        ("head_office", "settlement_list", ()),
    ],
)
def test_a_deactivated_person_loses_access_at_once(personas, who, url_name, args):
    client = Client()
    client.force_login(personas[who])
    url = reverse(url_name, args=args)
    assert client.get(url).status_code == 200
    user = personas[who]
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_person_moved_to_another_branch_loses_the_old_one_at_once(client, supervisor_a, branch_b):
    client.force_login(supervisor_a)
    assert client.get(reverse("dashboard:branch", args=["A0001"])).status_code == 200
    Profile.objects.filter(user=supervisor_a).update(branch=branch_b)
    assert client.get(reverse("dashboard:branch", args=["A0001"])).status_code == 404


def test_a_new_password_set_elsewhere_ends_other_sessions(agent_a):
    client = Client()
    client.force_login(agent_a)
    user = get_user_model().objects.get(pk=agent_a.pk)
    user.set_password("brand-new-pass-2026")
    user.save()
    response = client.get(reverse("counter:home"))
    assert response.status_code == 302
