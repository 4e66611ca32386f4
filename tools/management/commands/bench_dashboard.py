"""Benchmark the live dashboards: M websocket clients while payments are posted at a rate.

Starts daphne on a free loopback port (same settings as this command: use
PostgreSQL and Redis, e.g. `make bench-dashboard`), connects --clients
websockets to the national board as head office, and posts cash payments
through the payment service at --rate per second from several agents, first
without dashboards, then with them. Prints pushes delivered per second,
commit-to-dashboard latency (p50/p95) and payment posting p95 in both phases.
Only ever talks to 127.0.0.1; stops by itself.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from itertools import cycle
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections
from django.test import Client

from counter.models import Citizen, Service
from counter.services.payments import payment_post_cash
from dashboard.selectors import day_start
from float_management.models import SessionStatus, TillSession
from tools.bench.dashboards import percentile, watch_dashboards
from tools.bench.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.contrib.auth.models import User


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=500)
        parser.add_argument("--rate", type=float, default=100.0, help="payments per second")
        parser.add_argument("--seconds", type=float, default=15.0, help="per phase")
        parser.add_argument(
            "--threads", type=int, default=4, help="posting threads (one agent each)"
        )

    def handle(
        self,
        *args: Any,
        clients: int,
        rate: float,
        seconds: float,
        threads: int,
        **options: Any,
    ) -> None:
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            self.stderr.write("Warning: SQLite serialises writers; use DATABASE_URL for figures.")
        if not os.environ.get("REDIS_URL"):
            self.stderr.write("Warning: without REDIS_URL the server's pushes can't reach it.")
        self._open_every_till()
        sessions = list(
            TillSession.objects.filter(status=SessionStatus.OPEN).select_related("agent")
        )
        if not sessions:
            raise CommandError("No open till: run seed_demo first.")
        self.service = Service.objects.get(code="LA-106")
        self.citizen = Citizen.objects.order_by("pk").first()
        self.agents = [s.agent for s in sessions]
        head = Client()
        from django.contrib.auth import get_user_model

        head.force_login(get_user_model().objects.get(username="headoffice"))
        self.cookie = f"sessionid={head.cookies['sessionid'].value}"
        self.base_count = self._count_today()
        self.commits: dict[int, float] = {}
        self.commit_lock = threading.Lock()

        server = self._start_server()
        try:
            self.stdout.write(f"Phase 1: {rate:g} payments/s for {seconds:g} s, no dashboards")
            alone = self._post(rate, seconds, threads)
            self.stdout.write(f"Phase 2: the same with {clients} dashboards connected")
            with_boards, received, connected = self._with_clients(clients, rate, seconds, threads)
        finally:
            server.terminate()
            server.wait(timeout=10)
        latencies = [lat for lat in received if lat is not None]
        self.stdout.write("")
        self.stdout.write(f"dashboards connected:       {connected}/{clients}")
        self.stdout.write(f"payments posted:            {len(alone)} + {len(with_boards)}")
        self.stdout.write(
            f"pushes delivered:           {len(received)} ({len(received) / seconds:.0f}/s)"
        )
        self.stdout.write(f"commit-to-dashboard p50:    {percentile(latencies, 0.5) * 1000:.0f} ms")
        self.stdout.write(
            f"commit-to-dashboard p95:    {percentile(latencies, 0.95) * 1000:.0f} ms"
        )
        p95_alone = percentile(alone, 0.95) * 1000
        p95_boards = percentile(with_boards, 0.95) * 1000
        self.stdout.write(f"posting p95 without boards: {p95_alone:.1f} ms")
        self.stdout.write(
            f"posting p95 with boards:    {p95_boards:.1f} ms "
            f"({(p95_boards / p95_alone - 1) * 100:+.0f}%)"
        )

    def _open_every_till(self) -> None:
        """Open a till at every demo counter that has none, approved by the branch supervisor."""
        from django.contrib.auth import get_user_model

        from agents.models import Counter
        from float_management import services

        users = get_user_model().objects
        for counter in Counter.objects.select_related("branch").exclude(
            sessions__status__in=[
                SessionStatus.REQUESTED,
                SessionStatus.OPEN,
                SessionStatus.CLOSING,
            ]
        ):
            agent = users.filter(username=f"agent.{counter.branch.code}.{counter.number}").first()
            supervisor = users.filter(username=f"sup.{counter.branch.code}").first()
            if agent is None or supervisor is None:
                continue
            session = services.till_session_request_open(
                agent=agent,
                counter=counter,
                amount=100_000,
                idempotency_key=f"bench-open-{counter.pk}-{uuid.uuid4().hex}",
            )
            services.request_decide(
                request=session.requests.get(), supervisor=supervisor, approve=True
            )

    def _count_today(self) -> int:
        from counter.models import Payment

        return Payment.objects.filter(
            created_at__gte=day_start(), void_transfer__isnull=True
        ).count()

    def _start_server(self) -> subprocess.Popen:
        self.port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "config.asgi:application",
            ],
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return process
            except OSError:
                time.sleep(0.2)
        process.kill()
        raise CommandError("daphne did not start")

    def _post(self, rate: float, seconds: float, threads: int) -> list[float]:
        """Post payments at `rate` for `seconds`; returns each posting's duration."""
        durations: list[float] = []
        lock = threading.Lock()
        interval = threads / rate
        stop_at = time.monotonic() + seconds

        def worker(agents: Iterator[User]) -> None:
            close_old_connections()
            next_at = time.monotonic()
            for agent in agents:
                if time.monotonic() >= stop_at:
                    break
                started = time.monotonic()
                payment_post_cash(
                    agent=agent,
                    service=self.service,
                    citizen=self.citizen,
                    amount=None,
                    references={"licence_no": "1000/2026"},
                    tendered=5_000,
                    idempotency_key=uuid.uuid4().hex,
                )
                done = time.monotonic()
                with self.commit_lock:
                    self.base_count += 1
                    self.commits[self.base_count] = done
                with lock:
                    durations.append(done - started)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
            close_old_connections()

        # Each agent's payments are serialised by its till's lock: one thread per agent.
        pools = [cycle([a]) for a in self.agents][:threads]
        workers = [threading.Thread(target=worker, args=(pool,)) for pool in pools]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return durations

    def _with_clients(
        self, clients: int, rate: float, seconds: float, threads: int
    ) -> tuple[list[float], list[float | None], int]:
        """Post with `clients` dashboards open in another process (its own GIL and core)."""
        ctx = multiprocessing.get_context("fork")  # the child uses no database connection
        results, ready, stop = ctx.Queue(), ctx.Event(), ctx.Event()
        url = f"ws://127.0.0.1:{self.port}/ws/dashboard/nation/"
        watcher = ctx.Process(
            target=watch_dashboards,
            args=(url, self.cookie, clients, ready, stop, results),
            daemon=True,
        )
        watcher.start()
        ready.wait(timeout=120)
        time.sleep(1.5)  # let pushes from the first phase settle
        started = time.monotonic()
        durations = self._post(rate, seconds, threads)
        time.sleep(2.5)  # the last trailing push
        stop.set()
        connected, _refused, seen = results.get(timeout=60)
        watcher.join(timeout=10)
        received = [
            now - self.commits[count] if count in self.commits else None
            for now, count in seen
            if now >= started
        ]
        return durations, received, connected
