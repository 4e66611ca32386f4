"""Being put out stays put out: no cache outage undoes a logout, no lost message keeps a board.

A logout or an idle expiry during a cache (Redis) outage must still end the
session once the cache is back with whatever it held before. A deactivation,
a new password, a change of role or scope, or a logout closes the person's
open boards even when it happens in a process that exits at once (a
`manage.py shell` line, a script), and even when the message to the board is lost.
"""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from importlib import import_module
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.urls import reverse

from agents.models import Profile, Role
from config.asgi import application
from config.cache import _EMPTY_ANSWERS
from dashboard.consumers import CLOSE_REVOKED

ORIGIN = (b"origin", b"http://127.0.0.1")
BOARD = "/ws/dashboard/branch/A0001/"


@contextmanager
def cache_outage():
    """The cache answers as ResilientRedisCache does while Redis is unreachable; then it is back
    with everything it held before (a paused Redis keeps its data)."""
    cache = caches["default"]
    for name, answer in _EMPTY_ANSWERS.items():
        setattr(cache, name, answer)
    try:
        yield
    finally:
        for name in _EMPTY_ANSWERS:
            delattr(cache, name)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _with_cookie(cookie: str) -> Client:
    client = Client()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
    return client


def _session_exists(key: str) -> bool:
    return import_module(django_settings.SESSION_ENGINE).SessionStore().exists(key)


def _refused(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- Logout and idle expiry during a cache outage ------------------------------------------


def test_a_logout_during_a_cache_outage_is_not_undone_when_the_cache_returns(agent_a):
    client = _logged_in(agent_a)
    assert client.get(reverse("counter:home")).status_code == 200  # the session is cached
    old_cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with cache_outage():
        assert _refused(client.post(reverse("logout")))
    assert _refused(_with_cookie(old_cookie).get(reverse("counter:home")))
    assert not _session_exists(old_cookie)


def test_an_idle_expiry_during_a_cache_outage_is_not_undone_when_the_cache_returns(
    settings, agent_a
):
    settings.SESSION_IDLE_TIMEOUT = 600
    client = _logged_in(agent_a)
    assert client.get(reverse("counter:home")).status_code == 200
    old_cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    session = client.session
    session["last_seen"] = int(time.time()) - 601
    session.save()
    with cache_outage():
        assert _refused(client.get(reverse("counter:home")))
    assert _refused(_with_cookie(old_cookie).get(reverse("counter:home")))
    # Gone, not merely idle: a longer timeout set later must not bring it back.
    assert not _session_exists(old_cookie)


def test_a_session_still_works_during_a_cache_outage(agent_a):
    client = _logged_in(agent_a)
    with cache_outage():
        assert client.get(reverse("counter:home")).status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_cookie_logged_out_during_a_cache_outage_opens_no_board(supervisor_a, branch_a):
    def log_out_during_an_outage() -> str:
        client = _logged_in(supervisor_a)
        assert client.get(reverse("dashboard:branch", args=["A0001"])).status_code == 200
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        with cache_outage():
            assert _refused(client.post(reverse("logout")))
        return cookie

    cookie = await sync_to_async(log_out_during_an_outage)()
    communicator = WebsocketCommunicator(
        application, BOARD, headers=[ORIGIN, (b"cookie", f"sessionid={cookie}".encode())]
    )
    connected, _code = await communicator.connect(timeout=3)
    await communicator.disconnect()
    assert not connected


# --- Open boards close, whatever process revokes and whatever message is lost --------------


async def _watching(user) -> tuple[Client, WebsocketCommunicator]:
    client = await sync_to_async(_logged_in)(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    communicator = WebsocketCommunicator(
        application, BOARD, headers=[ORIGIN, (b"cookie", f"sessionid={cookie}".encode())]
    )
    connected, _code = await communicator.connect(timeout=3)
    assert connected
    await _whole_board(communicator)
    assert await communicator.receive_nothing(timeout=0.2)
    return client, communicator


async def _whole_board(communicator) -> None:
    """What a socket is sent on connect: the whole board (a numbered base, no diff)."""
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.send", message
    assert message["text"].startswith('<template data-seq="'), message["text"][:80]
    assert "data-base" not in message["text"].split(">", 1)[0]


async def _close_code(communicator, timeout: float) -> int | None:
    message = await communicator.receive_output(timeout=timeout)
    assert message["type"] == "websocket.close", message
    await communicator.disconnect()
    return message.get("code")


def _database_env() -> dict[str, str]:
    """This test's database, for a process of its own (the test database, not the real one)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SQLITE_PATH"}}
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DJANGO_SQLITE_PATH"] = str(db["NAME"])
    else:
        credentials = quote(db["USER"] or "")
        if db["PASSWORD"]:
            credentials += ":" + quote(db["PASSWORD"])
        env["DATABASE_URL"] = (
            f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        )
    return env


def _deactivate_in_a_short_lived_process(user_id: int) -> None:
    code = (
        "from django.contrib.auth import get_user_model\n"
        f"user = get_user_model().objects.get(pk={user_id})\n"
        "user.is_active = False\n"
        "user.save(update_fields=['is_active'])\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=django_settings.BASE_DIR,
        env=_database_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not get_user_model().objects.get(pk=user_id).is_active


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_deactivation_in_a_process_that_exits_at_once_closes_the_board(
    settings, supervisor_a, branch_a
):
    """The message itself must get there: the periodic check is set too far off to help."""
    if type(get_channel_layer()).__name__ == "InMemoryChannelLayer":
        pytest.skip("another process reaches a board only through a shared layer; set REDIS_URL")
    settings.DASHBOARD_RECHECK_SECONDS = 3600
    _client, communicator = await _watching(supervisor_a)
    await database_sync_to_async(_deactivate_in_a_short_lived_process)(supervisor_a.pk)
    assert await _close_code(communicator, timeout=5) == CLOSE_REVOKED


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_deactivation_in_another_process_closes_the_board_without_a_shared_layer(
    settings, supervisor_a, branch_a
):
    """No message can come (on the in-memory layer it never does): the periodic check closes it."""
    settings.DASHBOARD_RECHECK_SECONDS = 0.5
    _client, communicator = await _watching(supervisor_a)
    await database_sync_to_async(_deactivate_in_a_short_lived_process)(supervisor_a.pk)
    assert await _close_code(communicator, timeout=5) == CLOSE_REVOKED


def _deactivate(user, client):
    user.is_active = False
    user.save(update_fields=["is_active"])


def _new_password(user, client):
    user = get_user_model().objects.get(pk=user.pk)
    user.set_password("another-pass-2026")
    user.save()


def _move(user, client):
    from tests.factories import BranchFactory, governorate

    profile = Profile.objects.get(user=user)
    profile.branch = BranchFactory(code="C0001", governorate=governorate("01"))
    profile.save(update_fields=["branch"])


def _demote(user, client):
    profile = Profile.objects.get(user=user)
    profile.role = Role.AGENT
    profile.save(update_fields=["role"])


def _log_out(user, client):
    assert client.post(reverse("logout")).status_code == 302


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("change", [_deactivate, _new_password, _move, _demote, _log_out])
async def test_a_board_whose_revocation_message_is_lost_closes_at_the_next_check(
    settings, monkeypatch, supervisor_a, branch_a, change
):
    from dashboard import revocation

    settings.DASHBOARD_RECHECK_SECONDS = 0.5
    monkeypatch.setattr(revocation, "_send", lambda user_id: None)  # the message is lost
    client, communicator = await _watching(supervisor_a)
    await database_sync_to_async(change)(supervisor_a, client)
    assert await _close_code(communicator, timeout=3) == CLOSE_REVOKED


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_periodic_check_leaves_a_board_that_is_still_allowed_open(
    settings, supervisor_a, branch_a
):
    settings.DASHBOARD_RECHECK_SECONDS = 0.2
    _client, communicator = await _watching(supervisor_a)
    assert await communicator.receive_nothing(timeout=1.0)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_open_board_closes_once_its_session_idles_past_the_timeout(
    settings, supervisor_a, branch_a
):
    """As the handshake would refuse it: an unattended screen does not stay logged in."""
    settings.DASHBOARD_RECHECK_SECONDS = 0.5
    client, communicator = await _watching(supervisor_a)

    def idle():
        session = client.session
        session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT - 1
        session.save()

    await sync_to_async(idle)()
    assert await _close_code(communicator, timeout=3) == CLOSE_REVOKED


def test_the_periodic_check_of_a_board_costs_three_reads_and_writes_nothing(
    supervisor_a, branch_a, django_assert_num_queries
):
    from dashboard.consumers import _group_now

    key = _logged_in(supervisor_a).cookies[django_settings.SESSION_COOKIE_NAME].value
    kwargs = {"kind": "branch", "ident": "A0001"}
    # The session, the person with their profile, the branch.
    with django_assert_num_queries(3) as queries:
        assert _group_now(key, kwargs, "ar") == f"branch.{branch_a.pk}.ar.approver"
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)


def test_the_periodic_check_never_rewrites_the_session_of_an_old_password_hash(supervisor_a):
    """A hash the current key does not sign (e.g. a rotated key) ends the board, not the cookie."""
    from dashboard.consumers import _group_now

    client = _logged_in(supervisor_a)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    session = client.session
    session["_auth_user_hash"] = "0" * 64
    session.save()
    before = dict(client.session)
    assert _group_now(key, {"kind": "branch", "ident": "A0001"}, "ar") is None
    assert dict(import_module(django_settings.SESSION_ENGINE).SessionStore(key).load()) == before
