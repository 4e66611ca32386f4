"""Build a national-scale network (and optionally past days of payments) for load tests.

Writes in one transaction with bulk inserts (COPY on PostgreSQL): branches over
the 27 governorates, counters, one agent per counter, supervisors, regional
supervisors, head office and an auditor (usernames start "n."), the catalog,
vaults stocked from the bank, an open till with its approved float at every
counter, and --history-days past days of cash payments with each day's tills
closed back into the vault. `ledger_verify` passes afterwards.

Refuses, writing nothing, when the database already holds the network: seed
a fresh database (`createdb national && DATABASE_URL=... manage.py migrate`).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tools.national import (
    DEFAULT_PASSWORD,
    NationalNetworkExists,
    NationalOptions,
    NationalSeedError,
    national_seed,
)


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--branches", type=int, default=4_500)
        parser.add_argument("--counters", type=int, default=10_000)
        parser.add_argument("--history-days", type=int, default=0, help="past days of payments")
        parser.add_argument("--payments-per-counter-day", type=int, default=60)
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"password of every seeded login (default: {DEFAULT_PASSWORD})",
        )
        parser.add_argument(
            "--no-copy",
            action="store_true",
            help="use bulk_create on PostgreSQL too (slower; for comparison)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seed_options = NationalOptions(
            branches=options["branches"],
            counters=options["counters"],
            history_days=options["history_days"],
            payments_per_counter_day=options["payments_per_counter_day"],
            password=options["password"],
            use_copy=False if options["no_copy"] else None,
        )
        try:
            report = national_seed(options=seed_options, say=self.stdout.write)
        except (NationalNetworkExists, NationalSeedError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write("")
        self.stdout.write(f"Rows written ({report.method}; seconds spent writing each table):")
        for label, n in sorted(report.rows.items()):
            seconds = report.write_seconds.get(label)
            spent = f"{seconds:9.1f} s" if seconds is not None else ""
            self.stdout.write(f"  {label:<36} {n:>14,} {spent}")
        self.stdout.write(self.style.SUCCESS(f"National network seeded in {report.seconds:.1f} s."))
        self.stdout.write(
            f"Logins: n.headoffice, n.auditor, n.reg.<GG>, n.sup.<branch>, "
            f"n.agent.<branch>.<counter> (password: {seed_options.password})."
        )
