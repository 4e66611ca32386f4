"""A board is rendered for a push only in the variants somebody is watching."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from counter.services import payments
from dashboard import live

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.live_pushes,
]


def _cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def _pay(agent, service, citizen):
    payments.payment_post_cash(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )


async def _until_quiet():
    """A state, not a time: no push of this process is due or under way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while live.busy():
        assert loop.time() < deadline, "the boards never went quiet"
        await asyncio.sleep(0.02)


async def test_only_the_watched_board_and_variant_is_rendered(
    supervisor_a, agent_a, fixed_service, citizen, open_till, monkeypatch
):
    rendered: list[tuple[str, str, bool]] = []
    real = live.render_board

    def counting(base, *, language, can_approve, can_audit=False):
        rendered.append((base, language, can_approve))
        return real(base, language=language, can_approve=can_approve)

    monkeypatch.setattr(live, "render_board", counting)
    headers = [
        (b"origin", b"http://127.0.0.1"),
        await database_sync_to_async(_cookie)(supervisor_a),
    ]
    communicator = WebsocketCommunicator(
        application, "/ws/dashboard/branch/A0001/", headers=headers
    )
    connected, _ = await communicator.connect()
    assert connected
    await _until_quiet()  # pushes still due from the fixtures' own events
    while not await communicator.receive_nothing(timeout=0.1):
        await communicator.receive_from()
    rendered.clear()

    await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
    html = await communicator.receive_from(timeout=10)
    assert 'data-figure="payments">1<' in html
    await _until_quiet()  # and any trailing push of the same event
    # The branch's supervisor watches in Arabic with the approve buttons; nobody watches
    # the governorate or the nation, nor the branch in English or without the buttons.
    assert rendered == [(f"branch.{open_till.branch_id}", "ar", True)]
    await communicator.disconnect()
