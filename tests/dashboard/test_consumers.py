"""The dashboards' websocket against the real ASGI application."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from config.asgi import application
from counter.services import payments
from dashboard import live

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.live_pushes,
]
ORIGIN = (b"origin", b"http://127.0.0.1")


def _cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def _connect(path, user=None, origin=ORIGIN):
    headers = [origin] if origin else []
    if user is not None:
        headers.append(await database_sync_to_async(_cookie)(user))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


def _pay(agent, service, citizen, n=1):
    for _ in range(n):
        payments.payment_post_cash(
            agent=agent,
            service=service,
            citizen=citizen,
            amount=None,
            references={"licence": "123456"},
            tendered=10_000,
            idempotency_key=uuid.uuid4().hex,
        )


async def _messages(communicator, seconds):
    """Everything received within `seconds` (receive_nothing polls without killing the app)."""
    received = []
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if not await communicator.receive_nothing(timeout=0.05):
            received.append(await communicator.receive_from())
    return received


async def _quiet(communicator):
    """Wait for a state, not a time: no push of this process due or under way (the fixtures'
    own events push too), then take what those pushes sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while live.busy():
        assert loop.time() < deadline, "the boards never went quiet"
        await asyncio.sleep(0.02)
    return await _messages(communicator, 0.2)


async def _board_showing(communicator, needle, seconds=10):
    """The first pushed board that shows `needle` (earlier, staler boards are passed over)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    seen = []
    while loop.time() < deadline:
        if not await communicator.receive_nothing(timeout=0.05):
            html = await communicator.receive_from()
            if needle in html:
                return html
            seen.append(html)
    raise AssertionError(f"no board showed {needle!r} within {seconds} s ({len(seen)} others)")


async def test_an_anonymous_visitor_is_refused(branch_a):
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/")
    assert not connected


async def test_a_supervisor_of_another_branch_is_refused(supervisor_b, branch_a):
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/", supervisor_b)
    assert not connected


async def test_an_agent_is_refused(agent_a):
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/", agent_a)
    assert not connected


async def test_a_foreign_origin_is_refused(supervisor_a):
    origin = (b"origin", b"https://evil.example")
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/", supervisor_a, origin)
    assert not connected


@pytest.mark.parametrize(
    ("who", "path", "allowed"),
    [
        ("regional_a", "/ws/dashboard/governorate/01/", True),
        ("regional_other", "/ws/dashboard/governorate/01/", False),
        ("regional_a", "/ws/dashboard/nation/", False),
        ("head_office", "/ws/dashboard/nation/", True),
        ("auditor", "/ws/dashboard/governorate/21/", True),
        ("supervisor_a", "/ws/dashboard/governorate/01/", False),
    ],
)
async def test_each_role_joins_only_the_boards_of_its_scope(personas, who, path, allowed):
    communicator, connected = await _connect(path, personas[who])
    assert connected is allowed
    if connected:
        await communicator.disconnect()


async def test_a_supervisor_joins_exactly_the_branch_group_in_their_language(
    supervisor_a, branch_a
):
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    assert connected
    await _quiet(communicator)  # pushes still due from the fixtures' own events
    layer = get_channel_layer()
    for group in (
        f"branch.{branch_a.pk}.ar.viewer",
        f"branch.{branch_a.pk}.en.approver",
        "nation.ar.viewer",
    ):
        await layer.group_send(group, {"type": "dashboard.update", "group": group, "html": group})
    mine = f"branch.{branch_a.pk}.ar.approver"
    await layer.group_send(mine, {"type": "dashboard.update", "group": mine, "html": "mine"})
    assert await _messages(communicator, 0.5) == ["mine"]
    await communicator.disconnect()


async def test_a_committed_payment_pushes_a_fragment(
    supervisor_a, agent_a, fixed_service, citizen, open_till
):
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    assert connected
    await _quiet(communicator)
    await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
    html = await _board_showing(communicator, 'data-figure="payments">1<')
    # What changed since the board sent on connect, not the whole board.
    assert html.startswith('<template data-seq="') and 'data-base="' in html
    assert 'id="board-totals"' in html and 'id="board"' not in html
    await communicator.disconnect()


async def test_a_rolled_back_payment_pushes_nothing(
    supervisor_a, agent_a, fixed_service, citizen, open_till
):
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    await _quiet(communicator)  # pushes still due from the fixtures' own events

    def pay_and_roll_back():
        with transaction.atomic():
            _pay(agent_a, fixed_service, citizen)
            transaction.set_rollback(True)

    await database_sync_to_async(pay_and_roll_back)()
    assert await _messages(communicator, 1.5) == []
    await communicator.disconnect()


async def test_a_burst_of_a_hundred_events_becomes_at_most_two_pushes_with_the_final_figures(
    supervisor_a, agent_a, fixed_service, citizen, open_till
):
    communicator, connected = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    await _quiet(communicator)  # pushes still due from the fixtures' own events

    def burst():
        with transaction.atomic():  # 100 payments commit at once: 100 events in a moment
            _pay(agent_a, fixed_service, citizen, n=100)

    await database_sync_to_async(burst)()
    received = await _messages(communicator, 2.5)
    assert 1 <= len(received) <= 2
    assert 'data-figure="payments">100<' in received[-1]
    await communicator.disconnect()


async def test_a_broken_channel_layer_never_breaks_a_payment(
    agent_a, fixed_service, citizen, open_till, settings, caplog
):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    channel_layers.backends.clear()
    try:
        await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
        # The push itself fails against the dead layer (it can't even tell who
        # watches): logged, never raised.
        await live._push("nation")
    finally:
        channel_layers.backends.clear()
    assert await database_sync_to_async(open_till.payments.count)() == 1
    assert "could not read dashboard group membership; push skipped" in caplog.text
