"""Every figure on the dashboards, computed from the database.

A reload shows the same numbers as the live page: the websocket only pushes
these same fragments again. Each board runs a fixed number of queries,
whatever the number of branches or payments (pinned in the tests). The
governorate and nation boards read today's payments through a DayTally
(dashboard/aggregates.py): a per-minute snapshot plus an exact live delta.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMinute
from django.utils import timezone

from agencies.models import Notification, NotificationStatus
from agents.models import Branch, Governorate
from audit.models import AuditEntry
from core.clock import day_bounds, local_day, local_time, zone
from counter import methods
from counter.models import Agency, Payment, PrepaidCard
from dashboard.aggregates import DayTally, by, snapshot_key
from float_management.models import (
    ACTIVE_STATUSES,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    TransferKind,
)
from float_management.selectors import requests_pending, till_state
from settlement.models import SettlementBatch

LARGE_VARIANCE = 5_000  # piastres: 50 EGP either way is worth a supervisor's look
CLOSING_HOUR = 20  # a till still open after 20:00 Cairo time is flagged


NATION_SCOPE = "nation"  # the scopes of the boards' day tallies


def governorate_scope(governorate: Governorate) -> str:
    return f"governorate:{governorate.pk}"


def board_snapshot_keys(*, now: datetime, governorate: Governorate | None = None) -> list[str]:
    """The cache keys of the snapshots a board reads (the nation's when no governorate)."""
    if governorate is not None:
        return [snapshot_key(governorate_scope(governorate), day_start(now))]
    start, _end, scope = _minutes_window(now, 60)
    return [snapshot_key(NATION_SCOPE, day_start(now)), snapshot_key(scope, start)]


def day_start(now: datetime | None = None) -> datetime:
    local = local_time(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class CounterRow:
    number: int
    session: TillSession | None
    agent_name: str = ""
    status: str = ""
    cash: int = 0
    state: str = ""
    payments: int = 0
    total: int = 0
    last_activity: datetime | None = None
    open_after_hours: bool = False


@dataclass
class Board:
    rows: list = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    payments: int = 0
    total: int = 0
    extra: dict = field(default_factory=dict)


def _by_method(figures: dict[str, tuple[int, int]]) -> list[dict]:
    """The day's payments of each method, side by side, in the registry's order."""
    rows = []
    for method in methods.all():
        n, total = figures.get(method.key, (0, 0))
        rows.append({"method": method, "n": n, "total": total})
    return rows


@dataclass
class AgencyOutbox:
    """One agency's notifications the board shows: waiting, the oldest's age, failures."""

    agency: Agency
    pending: int = 0
    unknown: int = 0  # the worker is asking the agency's system what became of them
    refused: int = 0  # today's payments' notifications the agency's system refused
    oldest: datetime | None = None  # the oldest waiting one's creation
    age_minutes: int | None = None  # how long it has waited, at the board's time

    @property
    def waiting(self) -> int:
        return self.pending + self.unknown


_WAITING = [NotificationStatus.PENDING, NotificationStatus.UNKNOWN]


def agency_outbox(*, now: datetime, scope: Q | None = None) -> list[AgencyOutbox]:
    """Per agency with any, by code: notifications waiting (pending, unknown) and refused today.

    One query of two grouped halves. The waiting half reads only unresolved rows (the
    partial index agency_notification_due holds just these, however long the outbox
    grows); the refused half looks up each agency's refusals since midnight through
    the (agency, status, created_at) index. `scope` (on the notification) narrows to a
    branch's or a governorate's payments. Pushed when the outbox moves (agencies.signals).
    """
    scope = scope or Q()
    columns = ("agency_id", "agency__code", "agency__name_ar", "agency__name_en")
    waiting = (
        Notification.objects.filter(scope, status__in=_WAITING)
        .values(*columns)
        .annotate(
            pending=Count("id", filter=Q(status=NotificationStatus.PENDING)),
            unknown=Count("id", filter=Q(status=NotificationStatus.UNKNOWN)),
            refused=Value(0),
            oldest=Min("created_at"),
        )
        .order_by()
    )
    # Each agency's refusals since midnight: a lookup per agency (a few dozen) on the
    # (agency, status, created_at) index, whose leading column only an equality can use.
    refusals = (
        Notification.objects.filter(
            scope,
            agency=OuterRef("pk"),
            status=NotificationStatus.REFUSED,
            created_at__gte=day_start(now),
        )
        .values("agency")
        .annotate(n=Count("id"))
        .values("n")
    )
    refused = (
        Agency.objects.annotate(
            pending=Value(0),
            unknown=Value(0),
            refused=Coalesce(Subquery(refusals), 0),
            oldest=Value(None, output_field=DateTimeField()),
        )
        .values("pk", "code", "name_ar", "name_en", "pending", "unknown", "refused", "oldest")
        .order_by()
    )
    by_agency: dict[int, AgencyOutbox] = {}
    for row in waiting.union(refused, all=True):
        if not (row["pending"] or row["unknown"] or row["refused"]):
            continue  # an agency with no refusal today (filtered here: one lookup each)
        entry = by_agency.get(row["agency_id"])
        if entry is None:
            agency = Agency(
                pk=row["agency_id"],
                code=row["agency__code"],
                name_ar=row["agency__name_ar"],
                name_en=row["agency__name_en"],
            )
            entry = by_agency[agency.pk] = AgencyOutbox(agency=agency)
        entry.pending += row["pending"]
        entry.unknown += row["unknown"]
        entry.refused += row["refused"]
        if row["oldest"] is not None:
            entry.oldest = row["oldest"]
            entry.age_minutes = max(0, int((now - row["oldest"]).total_seconds() // 60))
    return sorted(by_agency.values(), key=lambda entry: entry.agency.code)


def _payments_today(now: datetime | None) -> QuerySet[Payment]:
    return Payment.objects.filter(created_at__gte=day_start(now), void_transfer__isnull=True)


def branch_board(branch: Branch, *, now: datetime | None = None) -> Board:
    """Every counter of the branch, its approval queue and its alerts (8 queries)."""
    now = now or timezone.now()
    start = day_start(now)
    counters = list(branch.counters.filter(is_active=True).order_by("number"))
    sessions = {
        s.counter_id: s
        for s in TillSession.objects.filter(
            branch=branch, status__in=ACTIVE_STATUSES
        ).select_related("agent", "account")
    }
    stats: dict[int, dict] = {}
    by_method: dict[str, tuple[int, int]] = {}
    for row in (
        _payments_today(now)
        .filter(branch=branch)
        .values("session_id", "method")
        .annotate(n=Count("id"), total=Sum("total"), last=Max("created_at"))
        .order_by()
    ):
        stat = stats.setdefault(row["session_id"], {"n": 0, "total": 0, "last": row["last"]})
        stat["n"] += row["n"]
        stat["total"] += row["total"] or 0
        stat["last"] = max(stat["last"], row["last"])
        n, total = by_method.get(row["method"], (0, 0))
        by_method[row["method"]] = (n + row["n"], total + (row["total"] or 0))
    # The day's figures count every till of the day, those already closed too.
    board = Board(
        payments=sum(s["n"] for s in stats.values()),
        total=sum(s["total"] or 0 for s in stats.values()),
    )
    board.extra["methods"] = _by_method(by_method)
    for counter in counters:
        row = CounterRow(number=counter.number, session=sessions.get(counter.pk))
        session = row.session
        if session is not None:
            row.agent_name = session.agent.get_full_name() or session.agent.get_username()
            row.status = session.get_status_display()
            row.cash = session.account.balance
            row.state = till_state(balance=row.cash, limit=branch.till_cash_limit)
            stat = stats.get(session.pk, {})
            row.payments, row.total = stat.get("n", 0), stat.get("total") or 0
            row.last_activity = stat.get("last") or session.opened_at or session.requested_at
            row.open_after_hours = session.status == SessionStatus.OPEN and (
                local_time(now).hour >= CLOSING_HOUR
                or (session.opened_at is not None and session.opened_at < start)
            )
            if row.state == "over":
                board.alerts.append(("over", counter.number))
            if row.open_after_hours:
                board.alerts.append(("after_hours", counter.number))
        board.rows.append(row)
    pending = list(requests_pending(branch))
    board.extra["pending"] = pending
    for request in pending:
        if request.kind == "void":
            board.alerts.append(("void", request.session.counter.number))
    for session in (
        TillSession.objects.filter(branch=branch, status=SessionStatus.CLOSED, closed_at__gte=start)
        .filter(Q(variance__gte=LARGE_VARIANCE) | Q(variance__lte=-LARGE_VARIANCE))
        .select_related("counter")
    ):
        board.alerts.append(("variance", session.counter.number))
    locked = PrepaidCard.objects.filter(issued_branch=branch, locked_at__gte=start).count()
    if locked:
        board.alerts.append(("cards_locked", locked))
    board.extra["integrity"] = integrity_alerts([branch], now=now)
    board.extra["agencies"] = agency_outbox(now=now, scope=Q(payment__branch=branch))
    return board


def governorate_board(governorate: Governorate, *, now: datetime | None = None) -> Board:
    """Each branch: totals today, open counters, cash held, alerts, agencies (6 queries)."""
    now = now or timezone.now()
    tally = DayTally(
        governorate_scope(governorate),
        payments=Payment.objects.filter(branch__governorate=governorate),
        keys=["branch_id", "method"],
        start=day_start(now),
        now=now,
    )
    branches = list(
        tally.fenced(
            Branch.objects.filter(governorate=governorate, is_active=True).order_by("code")
        )
    )
    figures = tally.figures(branches)
    paid = {branch_id: n_total for (branch_id,), n_total in by(figures, [0]).items()}
    held = {
        row["branch_id"]: row
        for row in TillSession.objects.filter(
            branch__governorate=governorate, status=SessionStatus.OPEN
        )
        .values("branch_id")
        .annotate(
            open=Count("id"),
            cash=Sum("account__balance"),
            over=Count("id", filter=Q(account__balance__gt=F("branch__till_cash_limit"))),
        )
        .order_by()
    }
    voids = dict(
        Request.objects.filter(branch__governorate=governorate, kind="void", decision__isnull=True)
        .values_list("branch_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    board = Board()
    board.extra["methods"] = _by_method(
        {key: n_total for (key,), n_total in by(figures, [1]).items()}
    )
    for branch in branches:
        (n, total), h = paid.get(branch.pk, (0, 0)), held.get(branch.pk, {})
        row = {
            "branch": branch,
            "payments": n,
            "total": total,
            "open": h.get("open", 0),
            "cash": h.get("cash") or 0,
            "limit": branch.till_cash_limit * h.get("open", 0),
            "over": h.get("over", 0),
            "voids": voids.get(branch.pk, 0),
        }
        board.rows.append(row)
        board.payments += row["payments"]
        board.total += row["total"]
        if row["over"]:
            board.alerts.append(("over", branch.name))
        if row["voids"]:
            board.alerts.append(("void", branch.name))
    board.extra["integrity"] = integrity_alerts(branches, now=now, limit=GOVERNORATE_INTEGRITY_TOP)
    board.extra["agencies"] = agency_outbox(
        now=now, scope=Q(payment__branch__governorate=governorate)
    )
    return board


def payments_per_minute(
    *,
    now: datetime | None = None,
    minutes: int = 60,
    tally: DayTally | None = None,
    fenced_rows: Sequence = (),
) -> list[int]:
    """Payments in each of the last `minutes` minutes, oldest first (1 query).

    Minutes before the snapshot's boundary come from the cache: a minute's
    count no longer changes once its payments have committed. A board passes
    its `minutes_tally` and the rows of its first query, which went through
    the tally's fence; alone, on PostgreSQL, this counts the hour live.
    """
    now = now or timezone.now()
    tally = tally or minutes_tally(now=now, minutes=minutes)
    counts = {
        local_time(minute).replace(second=0, microsecond=0): n
        for (minute,), (n, _total) in tally.figures(fenced_rows).items()
    }
    return [counts.get(local_time(tally.start + timedelta(minutes=i)), 0) for i in range(minutes)]


def _minutes_window(now: datetime, minutes: int) -> tuple[datetime, datetime, str]:
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    return start, end, f"minutes:{minutes}:{int(start.timestamp())}"


def minutes_tally(*, now: datetime, minutes: int = 60) -> DayTally:
    """The tally of payments by minute over the `minutes` up to the present one."""
    start, end, scope = _minutes_window(now, minutes)
    return DayTally(
        scope,
        payments=Payment.objects.filter(created_at__lt=end).annotate(
            minute=TruncMinute("created_at")
        ),
        keys=["minute"],
        start=start,
        now=now,
        standing_only=False,
        ttl=10 * 60,
    )


def sparkline(values: list[int], *, width: int = 300, height: int = 48) -> str:
    """SVG polyline points for `values`, scaled into width × height (drawn by the server)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{round(i * step, 1)},{round(height - (v / top) * (height - 2) - 1, 1)}"
        for i, v in enumerate(values)
    )


def nation_board(*, now: datetime | None = None) -> Board:
    """The nation by governorate, the last hour by minute, services, agencies (6 queries)."""
    now = now or timezone.now()
    tally = DayTally(
        NATION_SCOPE,
        payments=Payment.objects.all(),
        keys=[
            "branch__governorate_id",
            "service__code",
            "service__name_ar",
            "service__name_en",
            "method",
        ],
        start=day_start(now),
        now=now,
    )
    minutes = minutes_tally(now=now)
    governorates = list(
        minutes.fenced(tally.fenced(Governorate.objects.filter(abroad=False).order_by("code")))
    )
    figures = tally.figures(governorates)
    paid = {gid: n_total for (gid,), n_total in by(figures, [0]).items()}
    held = {
        row["branch__governorate_id"]: row
        for row in TillSession.objects.filter(status=SessionStatus.OPEN)
        .values("branch__governorate_id")
        .annotate(
            open=Count("id"),
            cash=Sum("account__balance"),
            over=Count("id", filter=Q(account__balance__gt=F("branch__till_cash_limit"))),
        )
        .order_by()
    }
    board = Board()
    board.extra["methods"] = _by_method(
        {key: n_total for (key,), n_total in by(figures, [4]).items()}
    )
    for governorate in governorates:
        (n, total), h = paid.get(governorate.pk, (0, 0)), held.get(governorate.pk, {})
        row = {
            "governorate": governorate,
            "payments": n,
            "total": total,
            "open": h.get("open", 0),
            "cash": h.get("cash") or 0,
            "over": h.get("over", 0),
        }
        board.rows.append(row)
        board.payments += row["payments"]
        board.total += row["total"]
        if row["over"]:
            board.alerts.append(("over", governorate.name))
    per_minute = payments_per_minute(now=now, tally=minutes, fenced_rows=governorates)
    board.extra["per_minute"] = per_minute
    board.extra["per_minute_max"] = max(per_minute, default=0)
    board.extra["sparkline"] = sparkline(per_minute)
    services = sorted(by(figures, [1, 2, 3]).items(), key=lambda item: (-item[1][0], item[0][0]))
    board.extra["top_services"] = [
        {"service__code": code, "service__name_ar": ar, "service__name_en": en, "n": n, "total": t}
        for (code, ar, en), (n, t) in services[:10]
    ]
    board.extra["settlements"] = list(
        SettlementBatch.objects.select_related("agency").order_by("-business_day", "agency__code")[
            :10
        ]
    )
    board.extra["agencies"] = agency_outbox(now=now)
    return board


# --- Integrity alerts: what an auditor would look for, per person ------------------

# Audit actions counted per person and day, with the setting holding each threshold.
INTEGRITY_AUDIT_ACTIONS = {
    "card.replaced": "INTEGRITY_ALERT_CARD_REPLACEMENTS",
    "card.unlocked": "INTEGRITY_ALERT_UNLOCKS",
    "citizen.read": "INTEGRITY_ALERT_CITIZEN_READS",
}
VOIDS, VARIANCE_DAYS = "void", "variance_days"
VARIANCE_WINDOW = 7  # days, today included, over which repeated close variances are counted
GOVERNORATE_INTEGRITY_TOP = 10  # the governorate board shows the worst this many


@dataclass
class IntegrityAlert:
    """One person over one threshold, and where the auditors' screen shows the entries."""

    kind: str  # an audit action of INTEGRITY_AUDIT_ACTIONS, VOIDS or VARIANCE_DAYS
    user_id: int
    username: str
    name: str
    branch: Branch
    count: int
    threshold: int
    audit_query: str  # the auditors' filter, for /audit/?<audit_query>

    @property
    def weight(self) -> float:
        return self.count / self.threshold


def integrity_thresholds() -> dict[str, int]:
    thresholds = {
        action: getattr(settings, name) for action, name in INTEGRITY_AUDIT_ACTIONS.items()
    }
    thresholds[VOIDS] = settings.INTEGRITY_ALERT_VOIDS
    thresholds[VARIANCE_DAYS] = settings.INTEGRITY_ALERT_VARIANCE_DAYS
    return thresholds


def _audited_over(thresholds: dict[str, int]) -> Q:
    return reduce(
        operator.or_,
        (Q(action=action, n__gte=thresholds[action]) for action in INTEGRITY_AUDIT_ACTIONS),
    )


def integrity_alerts(
    branches: Sequence[Branch], *, now: datetime, limit: int | None = None
) -> list[IntegrityAlert]:
    """The people of `branches` over an integrity threshold, worst first (1 query).

    Today (Cairo) per person: card replacements, card unlocks and citizen-record
    reads from the audit log (its actor); void requests raised (every one, waiting,
    approved or refused: the audit log has a void only once it is decided, in the
    supervisor's name); and the days of the last VARIANCE_WINDOW on which their
    till closed with a variance. Each is counted at the branch where it happened,
    the branch the auditors' screen filters on.
    """
    thresholds = integrity_thresholds()
    today = local_day(now)
    start, end = day_bounds(today)
    week_start, _ = day_bounds(today - timedelta(days=VARIANCE_WINDOW - 1))
    columns = ("user_id", "username", "first_name", "last_name", "branch_id", "alert")

    def person(path: str) -> dict:
        return {
            "user_id": F(f"{path}_id"),
            "username": F(f"{path}__username"),
            "first_name": F(f"{path}__first_name"),
            "last_name": F(f"{path}__last_name"),
        }

    by_id = {branch.pk: branch for branch in branches}
    in_scope = list(by_id)
    audited = (
        AuditEntry.objects.filter(
            at__gte=start,
            at__lt=end,
            action__in=list(INTEGRITY_AUDIT_ACTIONS),
            actor__isnull=False,
            branch__in=in_scope,
        )
        .annotate(**person("actor"), alert=F("action"))
        .values(*columns)
        .annotate(n=Count("id"))
    )
    voids = (
        Request.objects.filter(
            kind=RequestKind.VOID,
            requested_at__gte=start,
            requested_at__lt=end,
            branch__in=in_scope,
        )
        .annotate(**person("requested_by"), alert=Value(VOIDS, output_field=CharField()))
        .values(*columns)
        .annotate(n=Count("id"))
    )
    variances = (
        TillSession.objects.filter(
            status=SessionStatus.CLOSED,
            closed_at__gte=week_start,
            closed_at__lt=end,
            branch__in=in_scope,
        )
        .exclude(variance=0)
        .annotate(**person("agent"), alert=Value(VARIANCE_DAYS, output_field=CharField()))
        .values(*columns)
        .annotate(n=Count(TruncDate("closed_at", tzinfo=zone()), distinct=True))
    )
    rows = (
        audited.filter(_audited_over(thresholds))
        .order_by()
        .union(
            voids.filter(n__gte=thresholds[VOIDS]).order_by(),
            variances.filter(n__gte=thresholds[VARIANCE_DAYS]).order_by(),
            all=True,
        )
    )
    alerts = []
    for row in rows:
        kind, branch = row["alert"], by_id[row["branch_id"]]
        code = branch.code
        if kind == VARIANCE_DAYS:
            # The auditors find a close's variance under its transfer, posted in the
            # supervisor's name: the branch's variances of the week.
            query = {
                "action": f"transfer.{TransferKind.CLOSE_VARIANCE.value}",
                "branch": code,
                "since": (today - timedelta(days=VARIANCE_WINDOW - 1)).isoformat(),
            }
        elif kind == VOIDS:
            # Approved voids are transfers posted in the supervisor's name: the branch's of the day.
            query = {
                "action": f"transfer.{TransferKind.VOID.value}",
                "branch": code,
                "since": today.isoformat(),
            }
        else:
            query = {
                "actor": row["username"],
                "action": kind,
                "branch": code,
                "since": today.isoformat(),
            }
        query["until"] = today.isoformat()
        name = f"{row['first_name']} {row['last_name']}".strip() or row["username"]
        alerts.append(
            IntegrityAlert(
                kind=kind,
                user_id=row["user_id"],
                username=row["username"],
                name=name,
                branch=branch,
                count=row["n"],
                threshold=thresholds[kind],
                audit_query=urlencode(query),
            )
        )
    alerts.sort(key=lambda a: (-a.weight, a.username, a.kind))
    return alerts if limit is None else alerts[:limit]
