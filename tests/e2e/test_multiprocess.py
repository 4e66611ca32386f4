"""Two daphne processes sharing Redis: a payment through one reaches a dashboard on the other."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.e2e.conftest import PASSWORD, Daphne, seeded_env
from tests.e2e.http import Session, form_value

REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/12")


def _redis_answers() -> bool:
    try:
        import redis

        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    if not _redis_answers():
        pytest.skip(f"needs Redis at {REDIS_URL} (set E2E_REDIS_URL)")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    folder = tmp_path_factory.mktemp("multi")
    env = seeded_env(folder / "shared.sqlite3", REDIS_URL=REDIS_URL)
    first = Daphne(env, folder / "a.log")
    second = Daphne(env, folder / "b.log")
    yield first, second
    first.stop()
    second.stop()


def test_a_payment_through_one_process_reaches_a_dashboard_on_the_other(two_processes):
    import websocket

    first, second = two_processes
    supervisor = Session(second.base)
    supervisor.login("sup.01001", PASSWORD)
    _, board = supervisor.get("/dashboard/branches/01001/?fragment=1")
    before = int(re.search(r'data-figure="payments">(\d+)<', board).group(1))
    ws = websocket.create_connection(
        second.base.replace("http", "ws") + "/ws/dashboard/branch/01001/",
        cookie=f"sessionid={supervisor.cookie('sessionid')}",
        origin=second.base,
        timeout=10,
    )
    try:
        agent = Session(first.base)
        agent.login("agent.01001.1", PASSWORD)
        _, html = agent.get("/counter/citizens/search/?q=28503150123451")
        # The search's link carries a token signed for this agent, not the citizen's id.
        citizen = re.search(r'href="/counter/citizens/([\w-]+:[\w:-]+)/"', html).group(1)
        _, page = agent.get(f"/counter/pay/LA-106/?citizen={citizen}")
        data = {
            "ref_licence_no": "4321/2025",
            "tendered": "50",
            "method": "cash",
            "citizen": citizen,
            "idempotency_key": form_value(page, "idempotency_key"),
            "confirm": "1",
        }
        status, _, answer = agent.post(f"/counter/pay/LA-106/?citizen={citizen}", data)
        # Posted and printed: the answer is the receipt page, naming its own address.
        assert status == 200 and 'data-page="/receipts/' in answer
        ws.settimeout(5)
        # The search's audited citizen read moves the board (its integrity alerts) too:
        # wait for the push that carries the payment (the first message is the whole board).
        deadline = time.monotonic() + 5
        payments = before
        while payments != before + 1 and time.monotonic() < deadline:
            pushed = ws.recv()
            assert pushed.startswith('<template data-seq="')
            if figure := re.search(r'data-figure="payments">(\d+)<', pushed):
                payments = int(figure.group(1))
        assert payments == before + 1
    finally:
        ws.close()
