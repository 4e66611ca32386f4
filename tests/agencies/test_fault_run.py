"""The fault run: 200 payments told to an agency that times out, loses answers and restarts.

Real processes on PostgreSQL: the agency simulator (its state in a file, so a restart
keeps what it accepted) and two `manage.py agency_worker` on the test database. The
payments are posted here, in phases of faults: none; ``slow`` within our timeout, when
both workers are killed (SIGKILL) mid-call and replaced, so what they had sent is sent
again once their lease runs out and the agency answers it as a duplicate; ``timeout``
(held unanswered, never applied); a restart of the agency; ``accept_no_answer``
(applied, the answer lost: unknown, found by the status query); ``error_5xx`` (refused
before acting); ``slow`` beyond our timeout (applied after we gave up). Afterwards every
notification is acknowledged once, the agency holds each payment once, and the ledger
verifies.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from agencies.models import Notification
from agencies.services import integrations_cache_clear
from counter.models import Payment
from simulators.testing import Simulator, _wait_healthy, free_port
from tools.bench.agencies import integrated_world, pay, percentiles, systems, worker

ROOT = Path(__file__).resolve().parents[2]
PAYMENTS = 200
PHASES = [  # (first payment, faults from then on)
    (0, {}),
    (20, {"slow": 0.8}),
    (45, {"timeout": 3}),
    (70, "restart"),
    (70, {"accept_no_answer": True}),
    (100, {"error_5xx": True}),
    (130, {"slow": 1.6}),
    (160, {}),
]
KILL_AT = 35  # the agency is slow but answers in time: the workers are mid-call
LEASE = 8.0
PACE = 0.02  # seconds between two payments
DRAIN = 60.0

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _database_env(agency_url: str) -> dict[str, str]:
    """This test's database and cache, and the agency, for a process of its own."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SQLITE_PATH"}}
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    env["DATABASE_URL"] = (
        f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["AGENCY_SYSTEMS_JSON"] = json.dumps(_systems(agency_url))
    return env


def _systems(url: str) -> dict:
    return systems(
        url,
        timeout=1.0,
        inquiry_ceiling=2.0,
        retries=0,
        breaker_failures=5,
        breaker_cool_off=2.0,
    )


def _agency(port: int, state: Path) -> Simulator:
    """The agency simulator on ``port`` (the same one after a restart: the workers know it)."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Simulator.stop()
    command = [sys.executable, "-m", "simulators.agency", "--port", str(port)]
    command += ["--agency", "ELEC", "--state", str(state)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    simulator = Simulator("agency", process, port, stderr)
    if not _wait_healthy(simulator, 20):
        simulator.stop()
        raise RuntimeError(f"the agency did not start:\n{simulator.stderr()}")
    return simulator


def _kill_mid_call(workers: list[subprocess.Popen], logs: list[Path]) -> int:
    """SIGKILL the workers once a claim is some 0.3 s old (its call under way); how many.

    Only once they have delivered something: a first pass may still be starting up.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _outcomes(logs)["acknowledged"]:
        time.sleep(0.1)
    in_flight = 0
    while time.monotonic() < deadline and not in_flight:
        now = timezone.now()
        in_flight = Notification.objects.filter(
            status="pending",
            next_attempt_at__lte=now + timedelta(seconds=LEASE - 0.3),
            next_attempt_at__gt=now + timedelta(seconds=LEASE - 1.5),
        ).count()
        time.sleep(0.02)
    for process in workers:
        process.send_signal(signal.SIGKILL)
    for process in workers:
        process.wait()
    return in_flight


# The outcome a worker's pass reports once it has met the fault.
MET_AS = {"accept_no_answer": "unknown", "error_5xx": "retry"}
MEET_WITHIN = 30.0


def _await_outcome(logs: list[Path], outcome: str, before: int) -> None:
    """Wait (bounded) until the workers report `outcome` more often than `before`."""
    deadline = time.monotonic() + MEET_WITHIN
    while _outcomes(logs)[outcome] <= before and time.monotonic() < deadline:
        time.sleep(0.1)


def _outcomes(logs: list[Path]) -> Counter[str]:
    """What the workers' passes did, summed from the lines they print."""
    seen: Counter[str] = Counter()
    for log in logs:
        for found in re.finditer(r"agency worker: (\{.*\})", log.read_text(errors="replace")):
            seen.update(ast.literal_eval(found.group(1)))
    return seen


def test_200_payments_through_timeouts_lost_answers_and_restarts_reach_the_agency_once(
    settings, tmp_path
):
    integrations_cache_clear()
    port, state = free_port(), tmp_path / "agency.json"
    agency = _agency(port, state)
    settings.AGENCY_SYSTEMS = _systems(agency.url)
    env = _database_env(agency.url)
    logs = [tmp_path / f"worker-{n}.log" for n in range(4)]
    options = ("--interval", "0.5", "--lease", str(LEASE))
    workers = [worker(env, logs[n], *options) for n in range(2)]
    faults_seen = []
    try:
        world = integrated_world()
        started = time.monotonic()
        phases = iter(PHASES)
        phase = next(phases, None)
        awaited: tuple[str, int] | None = None
        for n in range(PAYMENTS):
            while phase is not None and phase[0] <= n:
                # A fault's phase lasts until the workers have met it (the breaker, open
                # from the phase before, may hold every call back for its short span).
                if awaited is not None:
                    _await_outcome(logs, *awaited)
                    awaited = None
                if isinstance(phase[1], dict) and MET_AS.keys() & phase[1].keys():
                    outcome = MET_AS[next(iter(MET_AS.keys() & phase[1].keys()))]
                    awaited = (outcome, _outcomes(logs)[outcome])
                if phase[1] == "restart":
                    agency.stop()
                    agency = _agency(port, state)
                elif phase[1]:
                    assert agency.post("/v1/faults", phase[1]).status == 200
                else:
                    agency.delete("/v1/faults")
                faults_seen.append(f"{n}: {phase[1] or 'none'}")
                phase = next(phases, None)
            if n == KILL_AT:
                in_flight = _kill_mid_call(workers, logs[:2])
                workers = [worker(env, logs[2 + k], *options) for k in range(2)]
                faults_seen.append(f"{n}: both workers killed ({in_flight} calls in flight)")
            pay(world, n)
            time.sleep(PACE)
        if awaited is not None:
            _await_outcome(logs, *awaited)
        posted = time.monotonic() - started
        agency.delete("/v1/faults")

        deadline = time.monotonic() + DRAIN
        waiting = Notification.objects.exclude(status="acknowledged")
        while waiting.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        drained = time.monotonic() - started
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(timeout=30)
        stats = agency.get("/v1/stats").json() if agency.is_running() else {}
        payments_at_agency = json.loads(state.read_text())["payments"] if state.exists() else {}
        agency.stop()

    notifications = Notification.objects.order_by("pk")
    outcomes = _outcomes(logs)
    delays = [
        (row.acknowledged_at - row.created_at).total_seconds() * 1000
        for row in notifications
        if row.acknowledged_at
    ]
    print(
        f"\nfault run: {PAYMENTS} payments posted in {posted:.1f} s, drained in {drained:.1f} s;"
        f"\n  phases: {'; '.join(faults_seen)}"
        f"\n  workers' outcomes: {dict(sorted(outcomes.items()))}"
        f"\n  attempts per notification: max {max(r.attempts for r in notifications)},"
        f" mean {statistics.mean(r.attempts for r in notifications):.2f}"
        f"\n  agency: {stats}"
        f"\n  commit -> acknowledgement: {percentiles(delays)}"
    )
    assert Payment.objects.count() == PAYMENTS
    assert notifications.count() == PAYMENTS
    assert Counter(notifications.values_list("status", flat=True)) == {"acknowledged": PAYMENTS}
    references = set(Payment.objects.values_list("reference", flat=True))
    assert set(payments_at_agency) == references
    assert stats["payments_accepted"] == PAYMENTS  # each applied once, restarts included
    ours = dict(notifications.values_list("payment__reference", "agency_txn_id"))
    assert ours == {ref: p["agency_txn_id"] for ref, p in payments_at_agency.items()}
    # The faults happened: answers were lost, and payments sent again were deduplicated.
    assert outcomes["unknown"] > 0 and outcomes["retry"] > 0
    assert stats["duplicates"] > 0
    call_command("ledger_verify")
