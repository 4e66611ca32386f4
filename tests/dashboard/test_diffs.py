"""A push sends what changed since the last push; a board that joins gets the whole board."""

import asyncio
import re
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from counter.services import payments
from dashboard import diffs, live
from dashboard.fragments import render_board

_HEAD = re.compile(r'^<template data-seq="(\d+)"(?: data-base="(\d+)")?>')


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


def _push_nation() -> dict[str, str]:
    """What live._render_all does for the English nation board (less its connection handling)."""
    return diffs.record({"nation.en.viewer": render_board("nation", language="en")})


def _head(message: str) -> tuple[int, int | None]:
    seq, base = _HEAD.match(message).groups()
    return int(seq), None if base is None else int(base)


def _parts(message: str) -> dict[str, str]:
    """The parts a message carries, by id (each in its own <template>)."""
    inner = message[_HEAD.match(message).end() : -len("</template>")]
    return diffs.split(
        inner.replace("<template>", "<!--part-->").replace("</template>", "<!--/part-->")
    )[1]


def _whole(message: str) -> str:
    """The board a whole message carries."""
    assert _head(message)[1] is None
    return message[_HEAD.match(message).end() + len("<template>") : -len("</template></template>")]


def _apply(board: str, message: str) -> str:
    """What the page does (static/js/dashboard.js): swap each part in by its id."""
    skeleton, parts = diffs.split(board)
    parts.update(_parts(message))
    for name, part in parts.items():
        skeleton = skeleton.replace(f"<!--part:{name}-->", f"<!--part-->{part}<!--/part-->")
    return skeleton


def test_split_takes_each_marked_element_by_its_id():
    skeleton, parts = diffs.split(
        '<div id="board"><!--part--><p id="a">1</p><!--/part--> <!--part--><tr id="b"><td>2'
        "</td></tr><!--/part--></div>"
    )
    assert skeleton == '<div id="board"><!--part:a--> <!--part:b--></div>'
    assert parts == {"a": '<p id="a">1</p>', "b": '<tr id="b"><td>2</td></tr>'}


def test_a_part_without_an_id_is_refused():
    with pytest.raises(ValueError, match="no id"):
        diffs.split("<!--part--><p>1</p><!--/part-->")


@pytest.mark.django_db
def test_the_first_push_sends_the_whole_board(head_office, branch_a):
    message = _push_nation()["nation.en.viewer"]
    seq, base = _head(message)
    assert base is None
    assert '<div id="board">' in message
    assert diffs.whole(diffs.last_or("nation.en.viewer", str)) == message


@pytest.mark.django_db
def test_a_second_push_sends_only_the_parts_a_payment_changed(
    agent_a, fixed_service, citizen, open_till
):
    first = _push_nation()["nation.en.viewer"]
    _pay(agent_a, fixed_service, citizen)
    second = _push_nation()["nation.en.viewer"]

    assert _head(second) == (_head(first)[0] + 1, _head(first)[0])
    changed = _parts(second)
    assert "board-totals" in changed
    assert 'data-figure="payments">1<' in changed["board-totals"]
    # The count, its method's figures, the activity line, the top services and the
    # governorate's row; not the other governorates, the settlements or the board around them.
    code = open_till.branch.governorate.code
    assert set(changed) == {
        "board-totals",
        "board-methods",
        "board-activity",
        "board-services",
        f"governorate-{code}",
    }
    assert 'id="board"' not in second
    assert len(second) < len(first)


@pytest.mark.django_db
def test_a_push_that_changes_nothing_sends_nothing(head_office, branch_a):
    _push_nation()
    assert _push_nation() == {}


@pytest.mark.django_db
def test_the_board_after_each_push_is_what_a_full_render_shows(
    agent_a, fixed_service, citizen, open_till
):
    page = render_board("nation", language="en")
    seq = None
    for n in (1, 2, 0, 3):
        _pay(agent_a, fixed_service, citizen, n=n)
        message = _push_nation().get("nation.en.viewer")
        if message is None:
            assert n == 0
            continue
        at, base = _head(message)
        if base is None:
            page = _whole(message)
        else:
            assert base == seq
            page = _apply(page, message)
        seq = at
        assert page == render_board("nation", language="en")


@pytest.mark.django_db
def test_a_board_changed_outside_its_parts_is_sent_whole(head_office, branch_a):
    _push_nation()
    boards = {"nation.en.viewer": render_board("nation", language="en").replace("</tbody>", "", 1)}
    message = diffs.record(boards)["nation.en.viewer"]
    assert _head(message)[1] is None


def test_a_forgotten_last_board_makes_the_next_push_whole():
    diffs.record({"g": '<div id="board"><!--part--><p id="a">1</p><!--/part--></div>'})
    diffs.forget(["g"])
    two = diffs.record({"g": '<div id="board"><!--part--><p id="a">2</p><!--/part--></div>'})
    assert _head(two["g"])[1] is None  # no board shows what a diff would build on


# --- through the websocket -------------------------------------------------------------


def _cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def _connect(path, user):
    headers = [(b"origin", b"http://127.0.0.1"), await database_sync_to_async(_cookie)(user)]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _members(group: str) -> int:
    """Channels in `group`, in the in-memory layer (SQLite runs) or channels-redis."""
    layer = get_channel_layer()
    if hasattr(layer, "groups"):
        return len(layer.groups.get(group, {}))
    return await layer.connection(layer.consistent_hash(group)).zcard(layer._group_key(group))


async def _quiet(communicator):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while live.busy():
        assert loop.time() < deadline, "the boards never went quiet"
        await asyncio.sleep(0.02)
    received = []
    while not await communicator.receive_nothing(timeout=0.2):
        received.append(await communicator.receive_from())
    return received


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.live_pushes
async def test_a_board_joining_between_two_pushes_gets_the_last_board_then_the_next_diff(
    supervisor_a, agent_a, fixed_service, citizen, open_till
):
    first = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    await _quiet(first)
    await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
    await _quiet(first)  # a push was recorded as the board's last

    second = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    joined = await second.receive_from(timeout=5)
    seq, base = _head(joined)
    assert base is None and 'data-figure="payments">1<' in joined

    await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
    for communicator in (first, second):
        (pushed,) = await _quiet(communicator)
        assert _head(pushed) == (seq + 1, seq)
        assert 'data-figure="payments">2<' in _parts(pushed)["board-totals"]
    await first.disconnect()
    await second.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.live_pushes
async def test_a_page_that_missed_a_push_asks_for_the_whole_board(
    supervisor_a, agent_a, fixed_service, citizen, open_till
):
    communicator = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    await _quiet(communicator)
    await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
    (pushed,) = await _quiet(communicator)
    await communicator.send_to(text_data="board")
    whole = await communicator.receive_from(timeout=5)
    assert _head(whole) == (_head(pushed)[0], None)
    assert 'data-figure="payments">1<' in whole and '<div id="board">' in whole
    await communicator.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.live_pushes
async def test_a_board_nobody_watched_is_rendered_afresh_for_the_next_to_join(
    supervisor_a, agent_a, fixed_service, citizen, open_till
):
    communicator = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    await _quiet(communicator)
    await communicator.disconnect()
    # Nobody watches: this push renders nothing, so the recorded board is out of date.
    await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
    await _quiet(communicator)

    again = await _connect("/ws/dashboard/branch/A0001/", supervisor_a)
    assert 'data-figure="payments">1<' in await again.receive_from(timeout=5)
    await again.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.live_pushes
async def test_a_push_is_one_layer_message_per_process_for_every_board_of_the_group(
    supervisor_a, agent_a, fixed_service, citizen, open_till
):
    boards = [await _connect("/ws/dashboard/branch/A0001/", supervisor_a) for _ in range(3)]
    for board in boards:
        await _quiet(board)
    group = f"branch.{open_till.branch_id}.ar.approver"
    assert await _members(group) == 1  # the process's hub, not each socket
    await database_sync_to_async(_pay)(agent_a, fixed_service, citizen)
    for board in boards:
        (pushed,) = await _quiet(board)
        assert 'data-figure="payments">1<' in _parts(pushed)["board-totals"]
    for board in boards:
        await board.disconnect()
    assert await _members(group) == 0  # nobody here watches: pushes skip it
