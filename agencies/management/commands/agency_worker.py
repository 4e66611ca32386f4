"""The agencies' outbox worker: `manage.py agency_worker` (as many as you like, at once).

Each pass delivers the notifications that are due (agencies.outbox). A full batch, or
one that made more due (a payment acknowledged frees its void), is followed by another
pass at once; otherwise the worker waits ``--interval`` seconds, or
less on PostgreSQL: a payment's commit sends NOTIFY agency_outbox, which this worker
LISTENs to on a connection of its own (not the pool's: a pooled connection goes back
to other users between passes, its LISTEN with it). SIGTERM and SIGINT end it after
the pass under way.
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from agencies.outbox import LEASE_SECONDS, notifications_deliver

CHANNEL = "agency_outbox"


class Listener:
    """A PostgreSQL connection LISTENing to the outbox's channel, reopened when it breaks."""

    def __init__(self) -> None:
        self.connection = None

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a NOTIFY; True when one came (all pending are read)."""
        import psycopg

        try:
            if self.connection is None or self.connection.closed:
                self.connection = psycopg.connect(**_params(), autocommit=True)
                self.connection.execute(f"LISTEN {CHANNEL}")
            woken = any(True for _ in self.connection.notifies(timeout=seconds, stop_after=1))
            if woken:
                # A burst of commits is one wake-up, not one pass each.
                for _ in self.connection.notifies(timeout=0):
                    pass
            return woken
        except psycopg.Error:
            self.close()
            time.sleep(seconds)
            return False

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
        self.connection = None


def _params() -> dict[str, Any]:
    db = connection.settings_dict
    params = {"dbname": db["NAME"], "user": db["USER"], "password": db["PASSWORD"]}
    params.update(host=db["HOST"], port=db["PORT"])
    return {key: value for key, value in params.items() if value}


def _unblocks(done: dict[str, int]) -> bool:
    """A pass whose outcome makes more due now: a void waiting for its payment, a resend."""
    return any(done.get(outcome) for outcome in ("acknowledged", "refused", "not_applied"))


class Command(BaseCommand):
    help = "Deliver the agencies' notifications until each agency acknowledges them."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between passes when idle"
        )
        parser.add_argument("--batch", type=int, default=50, help="notifications claimed a pass")
        parser.add_argument(
            "--lease",
            type=float,
            default=LEASE_SECONDS,
            help="seconds a claimed notification is this worker's (a dead worker's come back "
            "after it); longer than an agency's slowest answer",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=4,
            help="calls to the agencies at once within a pass (each thread has a connection)",
        )
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(*_args: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        listener = Listener() if connection.vendor == "postgresql" else None
        # SQLite's in-memory test database is one connection: one thread.
        threads = options["threads"] if connection.vendor == "postgresql" else 1
        self.stdout.write("agency worker: started")
        try:
            while not stopping:
                close_old_connections()
                done: dict[str, int] = {}
                try:
                    done = notifications_deliver(
                        batch=options["batch"], lease=options["lease"], threads=threads
                    )
                except Exception as error:  # noqa: BLE001 — a pass that fails is tried again
                    self.stderr.write(f"agency worker: pass failed: {error!r}")
                if done.get("claimed"):
                    self.stdout.write(f"agency worker: {done}")
                if options["once"] or stopping:
                    break
                if done.get("claimed", 0) >= options["batch"] or _unblocks(done):
                    continue
                if listener is not None:
                    listener.wait(options["interval"])
                else:
                    time.sleep(options["interval"])
        finally:
            if listener is not None:
                listener.close()
        self.stdout.write("agency worker: stopped")
