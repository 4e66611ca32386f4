"""Today's payment counts and totals for the boards: a snapshot per minute plus a live delta.

At national scale a day holds 600,000 payments, and counting them all on every
render of the nation board (once a second while anyone watches) cost 400 ms.
So each scope (the nation, a governorate) keeps in the cache a snapshot of
today's figures *as they stood at a boundary B*, recomputed at most once a
minute, and each render adds a delta read from the database:

    figures = snapshot(payments created in [midnight, B), as they stood at B)
            + payments created at or after B that are not voided
            − payments created before B and voided at or after B

Both delta queries are small: the first reads the minutes since B through the
(created_at, …) index, the second today's voids since B through a partial
index on voided_at (dashboard migration 0001); they run as one UNION ALL.
The board is then exact, not "a minute behind": what was paid a second ago
shows, and a voided payment leaves the figures as soon as its void commits.
The nation's per-minute sparkline of the last hour is kept the same way
(voided payments count there, so it has no void term).

"As they stood at B" is what makes the sum exact: the snapshot counts a
payment voided at or after B as not voided yet, and the delta takes it out.
For that the snapshot must see every payment created before B and every void
dated before B. `created_at` and `voided_at` are taken inside the payment's
(or the void's) transaction, which commits a little later, so B is never the
present moment:

* B is the last closed minute minus LAG (120 s), so a transaction has LAG
  seconds between taking its timestamp and committing before the snapshot
  could miss it; LAG also covers clock skew between application servers
  and the database server.
* On PostgreSQL, B is moreover at most LAG before the start of the oldest
  transaction still running that has written anything (pg_stat_activity),
  read by the board's first query, *before* the statement that computes the
  snapshot takes its MVCC snapshot. A payment transaction has written
  (locked the till, posted its transfer) before it takes `created_at`, and so
  has a void before `voided_at`, so however long one of them runs, its row
  lands on the delta side. A long writer elsewhere (a batch job) moves B
  back and the delta grows: slower, never wrong. (The database role must
  see the other sessions' xact_start: the application's own role does; give
  pg_read_all_stats to it if payments are written under another role.)

Freshness costs no write on the payment path and no row that every branch
updates: the snapshot is rebuilt by the first render after a minute closes.
Only the process that wins `cache.add` on the scope's lock rebuilds it (one
pass over the scope's payments of the day, as the board used to do on every
render); the others meanwhile use the previous snapshot with a longer delta,
or, when there is none yet (the day's first minute, a flushed cache), count
the day live. Any snapshot of today is valid whatever its age, since every
board counts from midnight with no upper bound; a rebuild only shortens the
delta. Keys carry the local day, so midnight starts afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, DateTimeField, Q, QuerySet, Sum, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core.clock import local_day
from counter.models import Payment

logger = logging.getLogger(__name__)

LAG = timedelta(seconds=120)
LOCK_SECONDS = 60  # a rebuild that dies leaves the lock to expire
SNAPSHOT_SECONDS = 26 * 3600
VERSION = 2  # bump when the snapshot's shape changes (2: keyed by method too)

# The start of the oldest other transaction of this database that has written
# something: rows it inserts later are dated after that start.
_OLDEST_WRITER_SQL = (
    "SELECT min(xact_start) FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
    "AND datname = current_database()"
)
FENCE = "tally_oldest_writer"
_UNFENCED = object()

Key = tuple
Figures = dict[Key, list[int]]  # key → [payments, total in piastres]
T = TypeVar("T")


def snapshot_key(scope: str, start: datetime) -> str:
    """The cache key of `scope`'s snapshot of the day that starts at `start`."""
    return f"dashboard:tally:v{VERSION}:{scope}:{local_day(start).isoformat()}"


def _clock() -> datetime:
    """The present, for the boundary (tests move it)."""
    return timezone.now()


@dataclass(frozen=True)
class Snapshot:
    boundary: datetime  # payments created before it, as they stood at it
    target: datetime  # the closed minute minus LAG it was built for
    figures: Figures


class DayTally:
    """Today's payments of one scope, counted and summed by `keys`, exactly.

    Use: `tally.fenced(qs)` for the board's first query (it carries the
    PostgreSQL fence when this render rebuilds the snapshot), then
    `tally.figures(rows_of_that_query)`, which runs exactly one query.
    With standing_only=False voided payments count too (the per-minute
    sparkline counts payments made, voided or not).
    """

    def __init__(
        self,
        scope: str,
        *,
        payments: QuerySet[Payment],
        keys: Sequence[str],
        start: datetime,
        now: datetime,
        standing_only: bool = True,
        ttl: int = SNAPSHOT_SECONDS,
    ) -> None:
        self.payments = payments
        self.keys = tuple(keys)
        self.start = start
        self.standing_only = standing_only
        self.ttl = ttl
        # Never a boundary in the future, even for a board asked "as at" a later time.
        closed = min(now, _clock()).replace(second=0, microsecond=0)
        self.target = max(start, closed - LAG)
        self.key = snapshot_key(scope, start)
        self.snapshot: Snapshot | None = _cached(lambda: cache.get(self.key), None)
        self.rebuild = (self.snapshot is None or self.snapshot.target < self.target) and _cached(
            lambda: cache.add(f"{self.key}:lock", True, LOCK_SECONDS), False
        )

    def fenced(self, queryset: QuerySet) -> QuerySet:
        if (
            self.rebuild
            and connection.vendor == "postgresql"
            and FENCE not in queryset.query.annotations  # another tally's fence serves
        ):
            return queryset.annotate(
                **{FENCE: RawSQL(_OLDEST_WRITER_SQL, (), output_field=DateTimeField())}
            )
        return queryset

    def figures(self, fenced_rows: Sequence) -> Figures:
        """Today's [payments, total] by key, as committed now (one query)."""
        if self.rebuild:
            try:
                return self._rebuild(fenced_rows)
            finally:
                _cached(lambda: cache.delete(f"{self.key}:lock"), None)
        if self.snapshot is None:
            return self._delta(self.start, base={})
        return self._delta(self.snapshot.boundary, base=self.snapshot.figures)

    def _rebuild(self, fenced_rows: Sequence) -> Figures:
        boundary = self.target
        if connection.vendor == "postgresql":
            oldest = getattr(fenced_rows[0], FENCE, _UNFENCED) if fenced_rows else _UNFENCED
            if oldest is _UNFENCED:  # no fence came back: count live and keep nothing
                return self._delta(self.start, base={})
            if oldest is not None:
                boundary = max(self.start, min(boundary, oldest - LAG))
        before = Q(created_at__lt=boundary)
        standing = _grouped(
            self._standing().filter(created_at__gte=self.start),
            self.keys,
            snap_n=Count("id", filter=before),
            snap_total=Sum("total", filter=before, default=0),
            n=Count("id"),
            total=Sum("total", default=0),
        )
        # Voided since the boundary: standing at it, gone now.
        voided = _grouped(
            self._voided_since(boundary),
            self.keys,
            snap_n=Count("id"),
            snap_total=Sum("total", default=0),
            n=Value(0),
            total=Value(0),
        )
        at_boundary: Figures = {}
        current: Figures = {}
        width = len(self.keys)
        for row in standing.union(voided, all=True) if self.standing_only else standing:
            key = row[:width]
            snap_n, snap_total, n, total = row[width:]
            _add(at_boundary, key, snap_n, snap_total)
            _add(current, key, n, total)
        snapshot = Snapshot(boundary=boundary, target=self.target, figures=_nonzero(at_boundary))
        _cached(lambda: cache.set(self.key, snapshot, self.ttl), None)
        return _nonzero(current)

    def _delta(self, boundary: datetime, *, base: Figures) -> Figures:
        since = _grouped(
            self._standing().filter(created_at__gte=boundary),
            self.keys,
            n=Count("id"),
            total=Sum("total", default=0),
        )
        voided = _grouped(
            self._voided_since(boundary),
            self.keys,
            n=Count("id") * -1,
            total=Sum("total", default=0) * -1,
        )
        figures = {key: list(value) for key, value in base.items()}
        width = len(self.keys)
        for row in since.union(voided, all=True) if self.standing_only else since:
            _add(figures, row[:width], *row[width:])
        return _nonzero(figures)

    def _standing(self) -> QuerySet[Payment]:
        if self.standing_only:
            return self.payments.filter(void_transfer__isnull=True)
        return self.payments

    def _voided_since(self, boundary: datetime) -> QuerySet[Payment]:
        return self.payments.filter(
            created_at__gte=self.start, created_at__lt=boundary, voided_at__gte=boundary
        )


def _cached(call: Callable[[], T], default: T) -> T:
    """The cache's answer, or `default` when it is down: the board then counts live."""
    try:
        return call()
    except Exception:
        logger.warning("Dashboard tallies: the cache is unavailable.", exc_info=True)
        return default


def _grouped(payments: QuerySet[Payment], keys: tuple[str, ...], **aggregates: Any) -> QuerySet:
    return payments.values(*keys).annotate(**aggregates).values_list(*keys, *aggregates).order_by()


def _add(figures: Figures, key: Key, n: int | Decimal, total: int | Decimal) -> None:
    # PostgreSQL sums bigints as numeric: back to int piastres here.
    entry = figures.setdefault(tuple(key), [0, 0])
    entry[0] += int(n)
    entry[1] += int(total)


def _nonzero(figures: Figures) -> Figures:
    return {key: value for key, value in figures.items() if value[0]}


def by(figures: Figures, index: Iterable[int]) -> Figures:
    """The figures summed by some of their key's parts (e.g. by governorate only)."""
    index = tuple(index)
    out: Figures = {}
    for key, (n, total) in figures.items():
        _add(out, tuple(key[i] for i in index), n, total)
    return out
