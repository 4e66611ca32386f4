"""Time the governorate and nation boards' selectors: the median of several runs, in ms.

Meant for a database seeded by `seed_national --history-days N` (PostgreSQL:
set DATABASE_URL). The seed's payments are all in past days, so the boards
are computed as at --at (default 16:00 Cairo, the day's close) on the latest
day that has payments: "today" is then a whole day's payments, the most the
boards ever count. (The selectors count from midnight without an upper
bound, so an earlier --at moves only the per-minute hour.) --explain prints
EXPLAIN ANALYZE of every query of one run.

The median is of renders as they happen all minute long: today's snapshot
(dashboard/aggregates.py) is in the cache and the board reads only the delta
since its boundary. The second line of each board times the render that
rebuilds its snapshots (their cache keys deleted before each run), which
happens once a minute per board, in whichever process wins the lock.
"""

from __future__ import annotations

import statistics
import time
from datetime import date, datetime
from datetime import time as clock
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Governorate
from core.clock import zone
from counter.models import Payment
from dashboard.selectors import board_snapshot_keys, governorate_board, nation_board

if TYPE_CHECKING:
    from collections.abc import Callable

    from dashboard.selectors import Board


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--governorate", default="01", help="code (default: 01, Cairo)")
        parser.add_argument("--runs", type=int, default=9)
        parser.add_argument("--day", help="YYYY-MM-DD (default: the latest day with payments)")
        parser.add_argument("--at", default="16:00", help="HH:MM Cairo time (default: 16:00)")
        parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each query")

    def handle(
        self,
        *args: Any,
        governorate: str,
        runs: int,
        day: str | None,
        at: str,
        explain: bool,
        **options: Any,
    ) -> None:
        try:
            where = Governorate.objects.get(code=governorate)
        except Governorate.DoesNotExist:
            raise CommandError(f"No governorate {governorate!r}.") from None
        now = self._moment(day, at)
        payments = Payment.objects.count()
        self.stdout.write(
            f"{connection.vendor}, {payments:,} payments; boards as at "
            f"{timezone.localtime(now, zone()):%Y-%m-%d %H:%M} Cairo; {runs} runs after a warm-up."
        )
        boards = {
            f"governorate_board({where.code} {where.name_en})": (
                lambda: governorate_board(where, now=now),
                board_snapshot_keys(now=now, governorate=where),
            ),
            "nation_board()": (
                lambda: nation_board(now=now),
                board_snapshot_keys(now=now),
            ),
        }
        for name, (board, keys) in boards.items():
            board()  # warm-up: plans, caches and today's snapshot
            timings, queries, result = self._time(board, runs)
            self.stdout.write(
                f"{name:<40} median {statistics.median(timings):7.1f} ms  "
                f"(min {min(timings):.1f}, max {max(timings):.1f}; "
                f"{len(queries)} queries; {result.payments:,} payments today)"
            )
            if explain:
                self._explain(queries.captured_queries)
            rebuilds, queries, _ = self._time(board, runs, forget=keys)
            self.stdout.write(
                f"{'  rebuilding its snapshot (once a minute)':<40} "
                f"p50 {statistics.median(rebuilds):7.1f} ms  "
                f"(min {min(rebuilds):.1f}, max {max(rebuilds):.1f}; {len(queries)} queries)"
            )
            if explain:
                self._explain(queries.captured_queries)

    def _time(
        self, board: Callable[[], Board], runs: int, *, forget: list[str] = ()
    ) -> tuple[list[float], CaptureQueriesContext, Board]:
        timings = []
        for _ in range(runs):
            cache.delete_many(forget)
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                result = board()
                timings.append((time.perf_counter() - started) * 1000)
        return timings, queries, result

    def _moment(self, day: str | None, at: str) -> datetime:
        try:
            hour, minute = (int(part) for part in at.split(":"))
            moment = clock(hour, minute)
        except ValueError:
            raise CommandError("--at is HH:MM") from None
        if day:
            try:
                on = date.fromisoformat(day)
            except ValueError:
                raise CommandError("--day is YYYY-MM-DD") from None
        else:
            last = Payment.objects.aggregate(last=Max("created_at"))["last"]
            if last is None:
                raise CommandError("No payments: run seed_national --history-days N first.")
            on = timezone.localtime(last, zone()).date()
        return datetime.combine(on, moment, tzinfo=zone())

    def _explain(self, captured: list[dict]) -> None:
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else ""
        if not prefix:
            self.stdout.write("  (EXPLAIN ANALYZE needs PostgreSQL)")
            return
        with connection.cursor() as cursor:
            for query in captured:
                self.stdout.write(f"\n  {query['time']} s  {query['sql'][:300]}")
                cursor.execute(prefix + query["sql"])
                for (line,) in cursor.fetchall():
                    self.stdout.write(f"    {line}")
