"""Reading the audit log for the auditors' screen."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import QuerySet

from audit.models import AuditEntry
from core.clock import day_bounds


def _start_of(day: date) -> datetime:
    return day_bounds(day)[0]


def audit_entries(
    *,
    since: date | None = None,
    until: date | None = None,
    branch_code: str = "",
    actor: str = "",
    action: str = "",
) -> QuerySet[AuditEntry]:
    """Entries matching the filters, newest first. Days are local (Cairo) days, inclusive."""
    entries = AuditEntry.objects.select_related("branch")
    if since:
        entries = entries.filter(at__gte=_start_of(since))
    if until:
        entries = entries.filter(at__lt=_start_of(until + timedelta(days=1)))
    if branch_code:
        entries = entries.filter(branch__code=branch_code)
    if actor:
        entries = entries.filter(actor_username=actor)
    if action:
        entries = entries.filter(action=action)
    return entries.order_by("-at", "-pk")


def page_of(entries: QuerySet[AuditEntry], *, page: int, per_page: int) -> tuple[list, bool]:
    """One page and whether another follows, without counting millions of rows."""
    start = (page - 1) * per_page
    rows = list(entries[start : start + per_page + 1])
    return rows[:per_page], len(rows) > per_page
