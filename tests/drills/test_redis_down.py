"""Drill 2: Redis stops under load; payments and approvals go on, boards know they are not live."""

from __future__ import annotations

import re
import time
from uuid import uuid4

import psycopg
import pytest

from tests.drills.load import (
    OK,
    Client,
    read_books,
    tally,
)
from tests.drills.services import PASSWORD

pytestmark = pytest.mark.drill

AGENTS = ["agent.01001.1", "agent.01001.2", "agent.21001.1"]
FIGURE = re.compile(r'data-figure="payments">(\d+)<')


class Board:
    """A branch dashboard's websocket, as the page's htmx extension holds it."""

    def __init__(self, base: str, supervisor: Client, branch: str) -> None:
        import websocket

        self.closed = websocket.WebSocketConnectionClosedException
        self.timeout = websocket.WebSocketTimeoutException
        self.ws = websocket.create_connection(
            base.replace("http", "ws", 1) + f"/ws/dashboard/branch/{branch}/",
            cookie=f"sessionid={supervisor.cookie('sessionid')}",
            origin=base,
            timeout=5,
        )

    def next_push(self, within: float) -> str | None:
        """The next push within `within` seconds; None when none came; raises when closed."""
        self.ws.settimeout(within)
        try:
            message = self.ws.recv()
        except self.timeout:
            return None
        except (OSError, self.closed):
            raise ConnectionError("closed") from None
        if not message:
            raise ConnectionError("closed")
        return message

    def waits_for_close(self, within: float) -> float | None:
        """Seconds until the server closed the socket, or None if it stayed open."""
        started = time.monotonic()
        while time.monotonic() - started < within:
            try:
                self.next_push(within - (time.monotonic() - started))
            except ConnectionError:
                return time.monotonic() - started
        return None

    def last_figure(self, quiet: float) -> int | None:
        """Payments on the last push, reading until `quiet` seconds pass without one."""
        figure = None
        while (push := self.next_push(quiet)) is not None:
            figure = int(FIGURE.search(push).group(1))
        return figure

    def close(self) -> None:
        self.ws.close()


def top_up_approved(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            """
            SELECT d.approved, d.transfer_id IS NOT NULL FROM float_management_request r
            JOIN float_management_decision d ON d.request_id = r.id
            WHERE r.kind = 'top_up_float' AND r.amount = 100000
            """
        ).fetchone()
    return row == (True, True)


def connect_board(base: str, supervisor: Client) -> Board | str:
    try:
        return Board(base, supervisor, "01001")
    except Exception as error:  # the handshake refused or the socket dropped at once
        return f"{type(error).__name__}: {error}"


def test_payments_and_approvals_go_on_while_redis_is_down(
    app, postgres, redis_server, payment_load, report
):
    supervisor = Client(app.base)
    supervisor.login("sup.01001", PASSWORD)
    asking = Client(app.base)
    asking.login("agent.01001.2", PASSWORD)
    before = connect_board(app.base, supervisor)
    assert isinstance(before, Board), before
    # A quiet board must stay connected (redis-py 8's 5 s read timeout once closed it).
    idle_closed_after = before.waits_for_close(7)
    load = payment_load(AGENTS, PASSWORD)
    assert before.next_push(5) is not None, "no push before the drill"

    load.phase = "redis down"
    redis_server.stop()
    down_at = time.monotonic()
    closed_after = before.waits_for_close(10)
    refused = connect_board(app.base, supervisor)
    if isinstance(refused, Board):
        refused.close()

    # A top-up asked and approved through the screens while Redis is down.
    page = asking.request("/float/session/")
    key = re.search(r'name="top_up-idempotency_key" value="([0-9a-f]{32})"', page.body)
    asked = asking.request(
        "/float/session/top-up/",
        {"top_up-amount": "1000", "top_up-idempotency_key": key.group(1) if key else uuid4().hex},
    )
    branch_page = supervisor.request("/float/branch/")
    pending = re.findall(r"/float/requests/(\d+)/decide/", branch_page.body)
    decided = (
        supervisor.request(f"/float/requests/{pending[0]}/decide/", {"decision": "approve"})
        if pending
        else None
    )
    time.sleep(max(0, 8 - (time.monotonic() - down_at)))
    during = load.outcomes("redis down")

    load.phase = "after"
    redis_server.start()
    back_at = time.monotonic()
    after, first_push = None, None
    # As the page's htmx extension does: connect again until a board stays up. Right
    # after the restart, channels-redis may hand the first socket a pooled connection
    # that died with the old server, and that socket is dropped (an abnormal close,
    # which the page answers by reconnecting).
    while time.monotonic() - back_at < 15:
        after = connect_board(app.base, supervisor)
        if isinstance(after, Board):
            try:
                first_push = after.next_push(5)
                break
            except ConnectionError:
                after.close()
                after = "dropped right after connecting"
        time.sleep(0.5)
    assert isinstance(after, Board), f"no dashboard after Redis came back: {after}"
    reconnect_seconds = time.monotonic() - back_at
    time.sleep(3)
    load.stop()
    last_pushed = after.last_figure(quiet=3)
    after.close()
    reloaded = int(
        FIGURE.search(supervisor.request("/dashboard/branches/01001/?fragment=1").body).group(1)
    )

    posted_before_resend = set(read_books(postgres.url, load.payments).posted_by_key)
    resend_requests = load.resend()
    books = read_books(postgres.url, load.payments)
    verify = app.ledger_verify()
    result = tally(
        "drill 2: Redis stopped under load for 8 s, then started again",
        load,
        posted_before_resend=posted_before_resend,
        resend_requests=resend_requests,
        books=books,
        extra={
            "payments while Redis was down: ok / other": f"{during[OK]} / "
            f"{sum(during.values()) - during[OK]}",
            "till page while down (HTTP)": page.status,
            "top-up asked while down (HTTP)": asked.status,
            "branch page while down (HTTP)": branch_page.status,
            "top-up approved while down (HTTP)": decided.status if decided else "no request",
            "quiet board closed within 7 s": "no" if idle_closed_after is None else "yes",
            "open board closed after (s)": "stayed open"
            if closed_after is None
            else f"{closed_after:.1f}",
            "new board while down": "connected" if isinstance(refused, Board) else "refused",
            "new board after Redis is back (s)": f"{reconnect_seconds:.1f}",
            "push after reconnect": "yes" if first_push else "no",
            "last push / reload (payments today)": f"{last_pushed} / {reloaded}",
            "ledger_verify": "ok" if verify.returncode == 0 else "FAILED",
        },
    )
    report(result.table())

    assert idle_closed_after is None, "a quiet dashboard socket was closed"
    assert during[OK] > 0 and during[OK] == sum(during.values()), during
    assert page.status == branch_page.status == 200
    assert asked.status == 302, "the top-up request failed while Redis was down"
    assert decided is not None and decided.status == 302, "the approval failed"
    assert top_up_approved(postgres.url), "the top-up was not approved"
    assert closed_after is not None, "the open dashboard never learned Redis was gone"
    assert not isinstance(refused, Board), "a dashboard connected while pushes cannot work"
    assert first_push is not None, "no push after Redis came back"
    assert last_pushed == reloaded, "the board did not catch up with the latest figures"
    assert not load.pending()
    assert result.rows["lost"] == 0
    assert result.rows["duplicated"] == 0
    assert books.broken == []
    assert verify.returncode == 0, verify.stdout + verify.stderr
