"""Benchmark settling a day at national scale while the counters take payments (issue 14).

Runs `manage.py settle --day D` in a child process, and meanwhile, in this one,
posts cash payments through the payment service, cycling over every agency that
is owed money for D (each payment credits one of the payables a batch of D locks),
and polls pg_stat_activity every --poll seconds from a third connection. Prints:
the settle's wall time and items, its longest transaction, the longest time any
other backend was blocked by it, the concurrent payments' latencies (max, p95;
and the same before the settle started, for comparison), then serves the largest
batch's CSV in another child process and prints its time and peak RSS.

Settling posts for good: run it on a scratch copy of a national database
(`make bench-settle`). PostgreSQL only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.test import RequestFactory

from core.clock import day_bounds, local_today
from core.errors import TillOverLimit
from counter.models import FeeComponent, Payment, Service
from counter.services.payments import payment_post_cash
from float_management.models import SessionStatus, TillSession
from settlement.models import SettlementBatch
from settlement.views import settlement_csv
from tools.bench.dashboards import percentile

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SETTLE_APP = "bench_settle"


def _day(text: str) -> date:
    return date.fromisoformat(text)


class _Template:
    """A payment of the day to post again today: same agent, service, citizen and references."""

    def __init__(self, payment: Payment) -> None:
        self.agent: User = payment.agent
        self.service: Service = payment.service
        self.citizen = payment.citizen
        self.references = payment.references
        self.total = payment.total
        # A variable service is paid its principal again (the amount typed at the counter).
        self.amount = next(
            (
                line.amount
                for line in payment.lines.all()
                if line.component.kind == FeeComponent.Kind.PRINCIPAL
            ),
            None,
        )


def _templates(day: date, per_agency: int) -> list[_Template]:
    """Payments of `day`, a few per agency, by agents whose till is open today."""
    start, end = day_bounds(day)
    open_agents = TillSession.objects.filter(status=SessionStatus.OPEN).values("agent_id")
    chosen: list[_Template] = []
    agency_ids = (
        Payment.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list("service__agency_id", flat=True)
        .distinct()
    )
    agents: set[int] = set()
    for agency_id in sorted(a for a in set(agency_ids) if a is not None):
        # Each from another agent: payers at one till would queue for its lock, not settle's.
        payments = (
            Payment.objects.filter(
                created_at__gte=start,
                created_at__lt=end,
                service__agency_id=agency_id,
                agent_id__in=open_agents,
            )
            .exclude(agent_id__in=agents)
            .select_related("agent", "service", "citizen")
            .prefetch_related("lines__component")
            .order_by("agent_id", "pk")
            .distinct("agent_id")[:per_agency]
        )
        chosen.extend(_Template(p) for p in payments)
        agents.update(t.agent.pk for t in chosen)
    return chosen


class _Payer(threading.Thread):
    """Posts payments one after another until told to stop; records (started, seconds)."""

    def __init__(self, templates: list[_Template], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.templates, self.stop = templates, stop
        self.timings: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.full = 0

    def run(self) -> None:
        live, turn = list(self.templates), 0
        try:
            while live and not self.stop.is_set():
                turn += 1
                t = live[turn % len(live)]
                started = time.monotonic()
                try:
                    payment_post_cash(
                        agent=t.agent,
                        service=t.service,
                        citizen=t.citizen,
                        amount=t.amount,
                        references=t.references,
                        tendered=t.total,
                        idempotency_key=uuid.uuid4().hex,
                    )
                except TillOverLimit:
                    live.remove(t)  # that till is full: pay at the others
                    self.full += 1
                    continue
                except Exception as error:  # counted and reported, the run goes on
                    self.errors.append(f"{type(error).__name__}: {error}")
                    continue
                self.timings.append((started, time.monotonic() - started))
        finally:
            connection.close()


class _Watcher(threading.Thread):
    """Polls pg_stat_activity: the settle's transactions and the backends it blocks."""

    def __init__(self, poll: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.poll, self.stop = poll, stop
        self.transactions: dict[tuple[int, Any], float] = {}  # (pid, xact_start) -> seconds
        self.blocked: dict[tuple[int, Any], float] = {}  # (pid, query_start) -> seconds
        # (pid, xact_start) -> (first seen locking the payables, last seen in that transaction)
        self.payables: dict[tuple[int, Any], list[float]] = {}
        self.polls = 0

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                while not self.stop.is_set():
                    cursor.execute(
                        "SELECT pid, xact_start, extract(epoch FROM clock_timestamp() - "
                        "xact_start), query FROM pg_stat_activity WHERE application_name = %s "
                        "AND xact_start IS NOT NULL",
                        [SETTLE_APP],
                    )
                    settle_pids = set()
                    for pid, started, seconds, query in cursor.fetchall():
                        settle_pids.add(pid)
                        key = (pid, started)
                        self.transactions[key] = max(self.transactions.get(key, 0), seconds)
                        if key in self.payables:
                            self.payables[key][1] = seconds
                        elif _locks_payables(query):
                            self.payables[key] = [seconds, seconds]
                    if settle_pids:
                        cursor.execute(
                            "SELECT pid, query_start, pg_blocking_pids(pid), extract(epoch FROM "
                            "clock_timestamp() - query_start) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock'"
                        )
                        for pid, started, blockers, seconds in cursor.fetchall():
                            if settle_pids & set(blockers or []):
                                key = (pid, started)
                                self.blocked[key] = max(self.blocked.get(key, 0), seconds)
                    self.polls += 1
                    time.sleep(self.poll)
        finally:
            connection.close()


def _locks_payables(query: str) -> bool:
    """A statement of the settle that locks (or writes) many accounts: a batch's payables.

    The bank account's lock, taken first, is one row (`= id`); the payables are `IN (…)`.
    """
    account = '"float_management_account"'
    return (account in query and "FOR UPDATE" in query and " IN (" in query) or query.startswith(
        f"UPDATE {account}"
    )


def _latency_line(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{label}: none"
    return (
        f"{label}: {len(seconds)} payments, max {max(seconds) * 1000:.0f} ms, "
        f"p95 {percentile(seconds, 0.95) * 1000:.0f} ms, "
        f"median {percentile(seconds, 0.5) * 1000:.0f} ms"
    )


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", type=_day, help="the day to settle (default: yesterday)")
        parser.add_argument("--by", default="n.headoffice", help="head office username")
        parser.add_argument("--payers", type=int, default=2, help="threads posting payments")
        parser.add_argument("--per-agency", type=int, default=20, help="tills paid per agency")
        parser.add_argument("--baseline", type=float, default=5.0, help="seconds paid before")
        parser.add_argument("--poll", type=float, default=0.1, help="seconds between polls")
        parser.add_argument("--no-csv", action="store_true", help="skip serving the CSV")
        parser.add_argument("--serve-csv", type=int, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_settle measures PostgreSQL locks: set DATABASE_URL.")
        if options["serve_csv"] is not None:
            self._serve_csv(options["serve_csv"], options["by"])
            return
        day = options["day"] or local_today() - timedelta(days=1)
        if SettlementBatch.objects.filter(business_day=day).exists():
            raise CommandError(f"{day} has batches already: bench a day never settled.")
        templates = _templates(day, options["per_agency"])
        if not templates:
            raise CommandError(f"No payments on {day} by an agent with an open till.")
        self.stdout.write(
            f"{day}: {len(templates)} kinds of payment over "
            f"{len({t.service.agency_id for t in templates})} agencies, "
            f"{options['payers']} payers"
        )

        stop_paying, stop_watching = threading.Event(), threading.Event()
        payers = [
            _Payer(templates[i :: options["payers"]] or templates, stop_paying)
            for i in range(options["payers"])
        ]
        for payer in payers:
            payer.start()
        time.sleep(options["baseline"])

        watcher = _Watcher(options["poll"], stop_watching)
        watcher.start()
        settle_started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "manage.py", "settle", "--day", str(day), "--by", options["by"]],
            env={**os.environ, "PGAPPNAME": SETTLE_APP},
            capture_output=True,
            text=True,
            check=False,
        )
        settle_seconds = time.monotonic() - settle_started
        stop_paying.set()
        stop_watching.set()
        for thread in [*payers, watcher]:
            thread.join()
        if result.returncode:
            raise CommandError(f"settle failed:\n{result.stdout}{result.stderr}")

        timings = [t for payer in payers for t in payer.timings]
        before = [s for started, s in timings if started < settle_started]
        settle_ended = settle_started + settle_seconds
        during = [s for started, s in timings if settle_started <= started < settle_ended]
        errors = [e for payer in payers for e in payer.errors]
        full = sum(payer.full for payer in payers)
        batches = SettlementBatch.objects.filter(business_day=day)
        items = sum(b.items_count for b in batches)

        self.stdout.write(f"settle wall time: {settle_seconds:.1f} s")
        self.stdout.write(f"batches: {len(batches)}, items: {items:,}")
        longest = max(watcher.transactions.values(), default=0.0)
        self.stdout.write(
            f"settle transactions seen: {len(watcher.transactions)} "
            f"(polled {watcher.polls} times), longest: {longest:.2f} s"
        )
        held = max((last - first for first, last in watcher.payables.values()), default=0.0)
        self.stdout.write(
            f"payables locked by {len(watcher.payables)} transactions, longest seen: "
            f"{held:.2f} s (+ up to {options['poll']:.1f} s between polls)"
        )
        blocked = max(watcher.blocked.values(), default=0.0)
        self.stdout.write(
            f"backends blocked by the settle: {len(watcher.blocked)}, longest wait seen: "
            f"{blocked:.2f} s"
        )
        self.stdout.write(_latency_line("payments before the settle", before))
        self.stdout.write(_latency_line("payments during the settle", during))
        if full:
            self.stdout.write(f"tills full (left out of the rotation): {full} of {len(templates)}")
        if errors:
            self.stdout.write(f"payment errors: {len(errors)} (first: {errors[0]})")
        if not options["no_csv"] and batches:
            self._bench_csv(max(batches, key=lambda b: b.items_count), options["by"])

    def _bench_csv(self, batch: SettlementBatch, by: str) -> None:
        """Serve the batch's file in a fresh process: its time and that process's peak RSS."""
        result = subprocess.run(
            [sys.executable, "manage.py", "bench_settle", "--serve-csv", str(batch.pk), "--by", by],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise CommandError(f"serving the CSV failed:\n{result.stdout}{result.stderr}")
        served = json.loads(result.stdout.strip().splitlines()[-1])
        self.stdout.write(
            f"CSV of {batch.agency.code} ({batch.items_count:,} payments): "
            f"{served['bytes'] / 1e6:.1f} MB in {served['seconds']:.1f} s, "
            f"peak RSS {served['peak_rss_mb']:.0f} MB "
            f"({served['rss_before_mb']:.0f} MB before serving)"
        )

    def _serve_csv(self, pk: int, by: str) -> None:
        """Child mode: call the CSV view as `by` and read the whole streamed body."""
        user = get_user_model().objects.get(username=by)
        request = RequestFactory().get(f"/settlement/{pk}/csv/")
        request.user = user
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        response = settlement_csv(request, pk)
        size = sum(len(chunk) for chunk in response.streaming_content)
        seconds = time.monotonic() - started
        connections.close_all()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.stdout.write(
            json.dumps(
                {
                    "bytes": size,
                    "seconds": seconds,
                    "rss_before_mb": rss_before / 1024,
                    "peak_rss_mb": peak / 1024,
                }
            )
        )
