"""Drill 3: PostgreSQL crashes and comes back under load; the app recovers by itself."""

from __future__ import annotations

import time

import pytest

from tests.drills.load import ERROR_PAGE, OK, open_till, read_books, tally
from tests.drills.services import PASSWORD

pytestmark = pytest.mark.drill

AGENTS = ["agent.01001.1", "agent.01001.2", "agent.21001.1", "agent.01002.1"]
OUTAGE = 4  # seconds between the crash and the start
# Requests wait this long for a pooled connection (10 s by default, which bridges a
# short outage: the requests wait and then succeed). Shorter here, so requests made
# during the outage fail, and must fail cleanly.
APP_ENV = {"DATABASE_POOL_TIMEOUT": "2"}


def test_the_app_recovers_from_a_postgres_restart_without_a_restart_of_its_own(
    app, postgres, payment_load, report
):
    open_till(
        app.base, agent="agent.01002.1", supervisor="sup.01002", password=PASSWORD, amount="5000"
    )
    load = payment_load(AGENTS, PASSWORD)
    time.sleep(6)
    load.phase = "database down"
    postgres.stop("immediate")  # a crash: no checkpoint, clients cut off
    time.sleep(OUTAGE)
    postgres.start()
    back_at = time.monotonic()
    load.phase = "after"
    time.sleep(10)
    after = [a for p in load.payments for a in p.attempts if a.phase == "after"]
    first_ok = min((a.at for a in after if a.outcome == OK), default=None)
    recovered_in = None if first_ok is None else first_ok - back_at
    failed_after = [a for a in after if a.outcome != OK]
    failed_late = [a for a in failed_after if a.at > back_at + 5]
    down = [a for p in load.payments for a in p.attempts if a.phase == "database down"]

    # A quiet moment: the pool holds idle connections when the server restarts under them.
    load.pause()
    postgres.restart("immediate")
    load.phase = "after a quiet restart"
    load.resume()
    time.sleep(5)
    load.stop()
    quiet = [a for p in load.payments for a in p.attempts if a.phase == "after a quiet restart"]
    failed_quiet = [a for a in quiet if a.outcome != OK]
    # A stale pooled connection fails inside the request; waiting for a new one while
    # the pool's reconnect backs off (1 s, 2 s, ...) is the pool timeout, not this.
    stale = [a for a in failed_quiet if "couldn't get a connection" not in a.detail]

    posted_before_resend = set(read_books(postgres.url, load.payments).posted_by_key)
    resend_requests = load.resend()
    books = read_books(postgres.url, load.payments)
    verify = app.ledger_verify()
    result = tally(
        f"drill 3: PostgreSQL crashed (pg_ctl stop -m immediate), started {OUTAGE} s later "
        "(pool timeout 2 s)",
        load,
        posted_before_resend=posted_before_resend,
        resend_requests=resend_requests,
        books=books,
        extra={
            "requests started while down: ok / 5xx / other": (
                f"{sum(a.outcome == OK for a in down)} / "
                f"{sum(a.outcome == ERROR_PAGE for a in down)} / "
                f"{sum(a.outcome not in (OK, ERROR_PAGE) for a in down)}"
            ),
            "failed after the start / of them > 5 s later": f"{len(failed_after)} / "
            f"{len(failed_late)}",
            "first payment after the start (s)": "none"
            if recovered_in is None
            else f"{recovered_in:.1f}",
            "after a restart with idle pooled connections: ok / failed / stale": (
                f"{len(quiet) - len(failed_quiet)} / {len(failed_quiet)} / {len(stale)}"
            ),
            "ledger_verify": "ok" if verify.returncode == 0 else "FAILED",
        },
    )
    report(result.table())

    failures = [a for p in load.payments for a in p.attempts if a.outcome != OK]
    assert failures, "the crash failed no request: no drill"
    assert all(a.outcome == ERROR_PAGE for a in failures), {a.outcome for a in failures}
    assert recovered_in is not None and recovered_in < 10, "no recovery without a restart"
    assert failed_late == [], "requests still failing 5 s after PostgreSQL came back"
    assert stale == [], f"stale pooled connections were handed to requests: {stale}"
    assert not load.pending()
    assert result.rows["lost"] == 0
    assert result.rows["duplicated"] == 0
    assert books.broken == []
    assert verify.returncode == 0, verify.stdout + verify.stderr
