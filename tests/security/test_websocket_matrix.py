"""Every websocket route × every persona, through the real ASGI application.

The table must name every route of `websocket_urlpatterns`: a new route without
rows here fails `test_every_websocket_route_is_in_the_table`. Then: who may
watch which board, a foreign Origin, and boards that close the moment their
person loses the right to them (deactivated, password changed, moved to
another scope, logged out).
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from agents.models import Profile, Role
from config.asgi import application
from config.routing import websocket_urlpatterns
from dashboard.consumers import CLOSE_REFUSED, CLOSE_REVOKED

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
FOREIGN_ORIGIN = (b"origin", b"https://evil.example")
ANON = "anonymous"
PERSONAS = [
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
NATIONAL = {"head_office", "auditor"}

# route (its pattern, as written in the routing) -> {path: personas who may connect}.
# Branch A is in Cairo (01), branch B in Giza (21); everyone else is refused.
TABLE: dict[str, dict[str, set[str]]] = {
    "ws/dashboard/nation/": {
        "/ws/dashboard/nation/": NATIONAL,
    },
    r"^ws/dashboard/(?P<kind>branch|governorate)/(?P<ident>[0-9A-Za-z_-]{1,12})/$": {
        "/ws/dashboard/branch/A0001/": {"supervisor_a", "regional_a", *NATIONAL},
        "/ws/dashboard/branch/B0001/": {"supervisor_b", "regional_other", *NATIONAL},
        "/ws/dashboard/branch/NOPE/": set(),
        "/ws/dashboard/governorate/01/": {"regional_a", *NATIONAL},
        "/ws/dashboard/governorate/21/": {"regional_other", *NATIONAL},
        # Born abroad (88) is a governorate code of IDs, not of the network.
        "/ws/dashboard/governorate/88/": set(),
        "/ws/dashboard/governorate/99/": set(),
    },
}
PATHS = [(path, allowed) for rows in TABLE.values() for path, allowed in rows.items()]


@pytest.fixture
def everyone(personas, supervisor_b):
    return {**personas, "supervisor_b": supervisor_b}


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _cookie_of(client: Client) -> tuple[bytes, bytes]:
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def _connect(path, client: Client | None = None, origin=ORIGIN):
    headers = [origin] if origin else []
    if client is not None:
        headers.append(_cookie_of(client))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=3)
    if not connected:
        # As the server would: end the refused app now, not when the test's loop closes
        # (a task left pending there can hold the Redis layer's receive lock).
        await communicator.disconnect()
    return communicator, connected, code


async def _closed_with(communicator, timeout=3.0):
    """The close code the server sends next (fails if the socket stays open)."""
    message = await communicator.receive_output(timeout=timeout)
    assert message["type"] == "websocket.close", message
    await communicator.disconnect()  # the browser's side of the close
    return message.get("code")


def test_every_websocket_route_is_in_the_table():
    routes = {str(route.pattern) for route in websocket_urlpatterns}
    assert routes == set(TABLE)


def test_every_path_of_the_table_resolves_to_its_route():
    for route_pattern, rows in TABLE.items():
        route = next(r for r in websocket_urlpatterns if str(r.pattern) == route_pattern)
        for path in rows:
            assert route.pattern.match(path.lstrip("/")), path


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "allowed"), PATHS)
async def test_each_persona_joins_only_the_boards_of_its_scope(everyone, path, allowed):
    seen = {}
    for persona in PERSONAS:
        client = None
        if persona != ANON:
            client = await sync_to_async(_login)(everyone[persona])
        communicator, connected, code = await _connect(path, client)
        seen[persona] = connected
        if connected:
            await communicator.disconnect()
        else:
            assert code == CLOSE_REFUSED, (path, persona, code)
    assert seen == {persona: persona in allowed for persona in PERSONAS}


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "allowed"), [(p, a) for p, a in PATHS if a])
async def test_a_foreign_origin_is_refused_even_for_a_persona_in_scope(everyone, path, allowed):
    client = await sync_to_async(_login)(everyone[sorted(allowed)[0]])
    for origin in (FOREIGN_ORIGIN, (b"origin", b"null")):
        communicator, connected, _code = await _connect(path, client, origin=origin)
        assert not connected, origin


@pytest.mark.asyncio
async def test_a_user_without_a_profile_is_refused(db):
    user = await database_sync_to_async(get_user_model().objects.create_user)(
        "nobody", password="x-pass-123"
    )
    client = await sync_to_async(_login)(user)
    for path, _allowed in PATHS:
        _communicator, connected, _code = await _connect(path, client)
        assert not connected, path


@pytest.mark.asyncio
async def test_a_forged_session_cookie_is_anonymous(branch_a, head_office):
    headers = [ORIGIN, (b"cookie", b"sessionid=forged0000000000000000000000000000")]
    communicator = WebsocketCommunicator(application, "/ws/dashboard/nation/", headers=headers)
    connected, code = await communicator.connect(timeout=3)
    await communicator.disconnect()
    assert not connected
    assert code == CLOSE_REFUSED


# --- Boards close the moment their person loses the right to them ---------------------


async def _watching(path, user):
    client = await sync_to_async(_login)(user)
    communicator, connected, _code = await _connect(path, client)
    assert connected
    await _whole_board(communicator)  # what a socket is sent on connect
    await communicator.receive_nothing(timeout=0.2)  # settle: nothing else is due
    return client, communicator


async def _whole_board(communicator):
    """The whole board (a numbered base, no diff), sent to every socket on connect."""
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.send", message
    assert message["text"].startswith('<template data-seq="'), message["text"][:80]
    assert "data-base" not in message["text"].split(">", 1)[0]


def _deactivate(user):
    user.is_active = False
    user.save(update_fields=["is_active"])


@pytest.mark.asyncio
async def test_deactivating_a_supervisor_closes_their_open_board_at_once(supervisor_a, branch_a):
    client, communicator = await _watching("/ws/dashboard/branch/A0001/", supervisor_a)
    await database_sync_to_async(_deactivate)(supervisor_a)
    assert await _closed_with(communicator) == CLOSE_REVOKED
    # And they cannot come back: the same cookie is refused.
    _communicator, connected, _code = await _connect("/ws/dashboard/branch/A0001/", client)
    assert not connected


@pytest.mark.asyncio
async def test_deactivating_someone_closes_every_board_they_have_open(head_office, branch_a):
    _client, nation = await _watching("/ws/dashboard/nation/", head_office)
    _client, cairo = await _watching("/ws/dashboard/governorate/01/", head_office)
    _client, branch = await _watching("/ws/dashboard/branch/A0001/", head_office)
    await database_sync_to_async(_deactivate)(head_office)
    for communicator in (nation, cairo, branch):
        assert await _closed_with(communicator) == CLOSE_REVOKED


@pytest.mark.asyncio
async def test_deactivating_someone_else_leaves_my_board_open(supervisor_a, supervisor_b):
    _client, communicator = await _watching("/ws/dashboard/branch/A0001/", supervisor_a)
    await database_sync_to_async(_deactivate)(supervisor_b)
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_a_save_that_changes_nothing_that_matters_leaves_the_board_open(regional_a):
    _client, communicator = await _watching("/ws/dashboard/governorate/01/", regional_a)

    def touch():
        regional_a.first_name = "رامي"
        regional_a.save()
        regional_a.profile.save()

    await database_sync_to_async(touch)()
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_a_new_password_closes_the_board(supervisor_a, branch_a):
    _client, communicator = await _watching("/ws/dashboard/branch/A0001/", supervisor_a)

    def new_password():
        supervisor_a.set_password("another-pass-2026")
        supervisor_a.save()

    await database_sync_to_async(new_password)()
    assert await _closed_with(communicator) == CLOSE_REVOKED


@pytest.mark.asyncio
async def test_moving_a_supervisor_to_another_branch_closes_the_old_board(
    supervisor_a, branch_a, branch_b
):
    client, communicator = await _watching("/ws/dashboard/branch/A0001/", supervisor_a)

    def move():
        profile = Profile.objects.get(user=supervisor_a)
        profile.branch = branch_b
        profile.save(update_fields=["branch"])

    await database_sync_to_async(move)()
    assert await _closed_with(communicator) == CLOSE_REVOKED
    _communicator, connected, _code = await _connect("/ws/dashboard/branch/A0001/", client)
    assert not connected


@pytest.mark.asyncio
async def test_demoting_a_supervisor_to_agent_closes_the_board(supervisor_a, branch_a):
    _client, communicator = await _watching("/ws/dashboard/branch/A0001/", supervisor_a)

    def demote():
        profile = Profile.objects.get(user=supervisor_a)
        profile.role = Role.AGENT
        profile.save()

    await database_sync_to_async(demote)()
    assert await _closed_with(communicator) == CLOSE_REVOKED


@pytest.mark.asyncio
async def test_removing_the_profile_closes_the_board(regional_a):
    _client, communicator = await _watching("/ws/dashboard/governorate/01/", regional_a)
    await database_sync_to_async(lambda: Profile.objects.get(user=regional_a).delete())()
    assert await _closed_with(communicator) == CLOSE_REVOKED


@pytest.mark.asyncio
async def test_logging_out_closes_the_board_and_the_cookie_no_longer_connects(
    supervisor_a, branch_a
):
    client, communicator = await _watching("/ws/dashboard/branch/A0001/", supervisor_a)
    response = await sync_to_async(client.post)(reverse("logout"))
    assert response.status_code == 302
    assert await _closed_with(communicator) == CLOSE_REVOKED
    stale = Client()
    stale.cookies["sessionid"] = _cookie_of(client)[1].decode().split("=", 1)[1] or "gone"
    _communicator, connected, _code = await _connect("/ws/dashboard/branch/A0001/", stale)
    assert not connected


@pytest.mark.asyncio
async def test_a_revocation_racing_the_handshake_still_closes_the_socket(
    supervisor_a, branch_a, monkeypatch
):
    """Deactivated while connect() checks the scope: the close still arrives."""
    from dashboard import consumers

    real = consumers.board_group

    def check_then_deactivate(user, kind, ident):
        group = real(user, kind, ident)
        _deactivate(get_user_model().objects.get(pk=supervisor_a.pk))
        return group

    monkeypatch.setattr(consumers, "board_group", check_then_deactivate)
    client = await sync_to_async(_login)(supervisor_a)
    communicator, connected, _code = await _connect("/ws/dashboard/branch/A0001/", client)
    assert connected  # the check itself passed before the deactivation
    # The board of the check that passed may go out first (it is what they could see a
    # moment before); then the close, and nothing after it.
    message = await communicator.receive_output(timeout=3)
    if message["type"] == "websocket.send":
        assert "data-base" not in message["text"].split(">", 1)[0]
        message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close", message
    assert message.get("code") == CLOSE_REVOKED
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_the_revocation_reaches_a_board_served_by_another_process(supervisor_a, branch_a):
    """Only a shared layer (Redis) reaches other processes; the in-memory one cannot."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if type(layer).__name__ == "InMemoryChannelLayer":
        pytest.skip("needs a shared channel layer; set REDIS_URL")
    _client, communicator = await _watching("/ws/dashboard/branch/A0001/", supervisor_a)
    # A send from another event loop (another thread) stands for another process.
    await asyncio.to_thread(
        lambda: asyncio.run(
            get_channel_layer().group_send(f"user.{supervisor_a.pk}", {"type": "access.revoked"})
        )
    )
    assert await _closed_with(communicator) == CLOSE_REVOKED


@pytest.mark.asyncio
async def test_a_session_idle_past_the_timeout_opens_no_board(supervisor_a, branch_a):
    """The cookie HTTP would log out is refused at the handshake as well."""
    import time

    client = await sync_to_async(_login)(supervisor_a)

    def idle():
        session = client.session
        session["last_seen"] = int(time.time()) - 24 * 3600
        session.save()

    await sync_to_async(idle)()
    _communicator, connected, code = await _connect("/ws/dashboard/branch/A0001/", client)
    assert not connected
    assert code == CLOSE_REFUSED
