"""Drill 1: kill -9 the app mid-load; a new process on the same database; re-send the unseen."""

from __future__ import annotations

import time

import pytest

from tests.drills.load import NO_RESPONSE, open_till, read_books, tally
from tests.drills.services import PASSWORD

pytestmark = pytest.mark.drill

# Three tills the demo opens, and one opened through the screens before the load.
AGENTS = ["agent.01001.1", "agent.01001.2", "agent.21001.1", "agent.01002.1"]


def test_kill_9_of_the_app_loses_and_duplicates_no_payment(app, postgres, payment_load, report):
    open_till(
        app.base, agent="agent.01002.1", supervisor="sup.01002", password=PASSWORD, amount="5000"
    )
    load = payment_load(AGENTS, PASSWORD)
    time.sleep(8)
    load.phase = "killed"
    app.kill9()
    time.sleep(1)
    killed_at = time.monotonic()
    app.start()
    restart_seconds = time.monotonic() - killed_at + 1
    load.phase = "after"
    time.sleep(8)
    load.stop()

    posted_before_resend = set(read_books(postgres.url, load.payments).posted_by_key)
    resend_requests = load.resend()
    books = read_books(postgres.url, load.payments)
    verify = app.ledger_verify()
    result = tally(
        "drill 1: kill -9 of daphne mid-load, new daphne on the same database",
        load,
        posted_before_resend=posted_before_resend,
        resend_requests=resend_requests,
        books=books,
        extra={
            "app down (s)": f"{restart_seconds:.1f}",
            "ledger_verify": "ok" if verify.returncode == 0 else "FAILED",
        },
    )
    report(result.table())

    assert load.outcomes("killed")[NO_RESPONSE] > 0, "the kill hit no request: no drill"
    assert not load.pending(), "payments still without an outcome after the re-send"
    assert result.rows["lost"] == 0
    assert result.rows["duplicated"] == 0
    assert books.broken == []
    assert sum(books.payments_by_licence.values()) == len(books.posted_by_key)
    assert verify.returncode == 0, verify.stdout + verify.stderr
