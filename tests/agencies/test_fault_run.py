"""The fault run: 200 payments told to an agency that times out, loses answers and restarts.

Real processes on PostgreSQL: the agency simulator (its state in a file, so a restart
keeps what it accepted) and two `manage.py agency_worker` on the test database, one of
them killed (SIGKILL, mid-pass) and replaced while the agency is slow. The payments are posted here,
in phases of faults: none, ``timeout`` (held unanswered, never applied), a restart of
the agency, ``accept_no_answer`` (applied, the answer lost), ``error_5xx`` (refused
before acting), ``slow`` (applied after our timeout: the status query may find nothing
yet and the payment is sent again, which the agency answers as a duplicate). Afterwards
every notification is acknowledged once, the agency holds each payment once, and the
ledger verifies.
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
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection

from agencies.models import Notification
from agencies.services import integrations_cache_clear
from counter.models import Payment
from simulators.testing import Simulator, _wait_healthy, free_port
from tools.bench.agencies import integrated_world, pay, percentiles, systems, worker

ROOT = Path(__file__).resolve().parents[2]
PAYMENTS = 200
PHASES = [  # (first payment, faults from then on)
    (0, {}),
    (30, {"timeout": 3}),
    (60, "restart"),
    (60, {"accept_no_answer": True}),
    (100, {"error_5xx": True}),
    (140, {"slow": 1.6}),
    (170, {}),
]
PACE = 0.05  # seconds between two payments
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
    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    options = ("--interval", "0.5", "--lease", "8")
    workers = [worker(env, logs[n], *options) for n in range(2)]
    faults_seen = []
    try:
        world = integrated_world()
        started = time.monotonic()
        phases = iter(PHASES)
        phase = next(phases, None)
        for n in range(PAYMENTS):
            while phase is not None and phase[0] <= n:
                if phase[1] == "restart":
                    agency.stop()
                    agency = _agency(port, state)
                elif phase[1]:
                    assert agency.post("/v1/faults", phase[1]).status == 200
                else:
                    agency.delete("/v1/faults")
                faults_seen.append(f"{n}: {phase[1] or 'none'}")
                phase = next(phases, None)
            if n == 150:
                # A worker dies mid-pass (the agency is slow: most likely mid-call, the
                # payment applied and not recorded); its claims come back after the lease.
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                workers[0] = worker(env, logs[2], *options)
                faults_seen.append(f"{n}: worker killed and replaced")
            pay(world, n)
            time.sleep(PACE)
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
    # The faults happened: answers were lost and payments sent again were deduplicated.
    assert outcomes["unknown"] > 0 and outcomes["retry"] > 0
    call_command("ledger_verify")
