"""The wallet's background worker: `manage.py wallet_worker` (started by `make run`).

Each pass, about once a second: marks QRs past their time expired, asks the
provider about QRs whose callback is late or lost (the status query), sends
approved refunds until the provider confirms them, and forgets callback
signatures too old to be replayed.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from wallet.models import CallbackSeen
from wallet.services import intents_expire, intents_query, refunds_send_due


def one_pass(*, query_after: float) -> dict[str, int]:
    now = timezone.now()
    return {
        "expired": intents_expire(now),
        "found": intents_query(older_than=query_after, now=now),
        "refunds": refunds_send_due(),
        "forgotten": CallbackSeen.objects.filter(
            received_at__lt=now - timedelta(minutes=15)
        ).delete()[0],
    }


class Command(BaseCommand):
    help = "Run the wallet's worker: expiries, status queries for late callbacks, refunds."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes")
        parser.add_argument(
            "--query-after",
            type=float,
            default=3.0,
            help="ask the provider about a QR this many seconds after it was shown, and again "
            "as often, while no callback has paid it",
        )
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(*_args: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("wallet worker: started")
        while not stopping:
            close_old_connections()
            try:
                done = one_pass(query_after=options["query_after"])
            except Exception as error:  # noqa: BLE001 — a pass that fails is tried again
                self.stderr.write(f"wallet worker: pass failed: {error!r}")
            else:
                if any(done.values()):
                    self.stdout.write(f"wallet worker: {done}")
            if options["once"]:
                break
            time.sleep(options["interval"])
