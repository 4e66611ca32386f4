"""Reads of the reconciliation runs: the latest of each day, their lines, a day's exceptions."""

from __future__ import annotations

from datetime import date

from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When

from core.clock import day_bounds
from counter.models import Payment
from reconciliation.models import (
    EXCEPTION_KINDS,
    ReconciliationItem,
    ReconciliationRun,
    Source,
)
from wallet.models import ReceiptStatus, WalletTransaction


def _latest_of_its_day() -> Subquery:
    return Subquery(
        ReconciliationRun.objects.filter(
            source=OuterRef("source"), business_day=OuterRef("business_day")
        )
        .order_by("-ran_at", "-pk")
        .values("pk")[:1]
    )


def latest_runs() -> QuerySet[ReconciliationRun]:
    """The latest run of each source and day, the newest day first."""
    return (
        ReconciliationRun.objects.filter(pk=_latest_of_its_day())
        .select_related("ran_by")
        .order_by("-business_day", "source")
    )


def run_exceptions(run: ReconciliationRun) -> QuerySet[ReconciliationItem]:
    """The run's lines that did not match: only ours, only theirs, then amounts differing."""
    order = Case(
        *(When(kind=kind, then=Value(i)) for i, kind in enumerate(EXCEPTION_KINDS)),
        output_field=IntegerField(),
    )
    return (
        run.items.filter(kind__in=EXCEPTION_KINDS)
        .select_related("payment", "wallet_transaction")
        .annotate(kind_order=order)
        .order_by("kind_order", "pk")
    )


def day_exceptions(day: date) -> list[ReconciliationItem]:
    """The exceptions of the latest run of each source for `day` (one query).

    For settlement: money a provider and we disagree on, to wait for or list.
    """
    return list(
        ReconciliationItem.objects.filter(
            run__business_day=day,
            run__pk__in=ReconciliationRun.objects.filter(
                business_day=day, pk=_latest_of_its_day()
            ).values("pk"),
            kind__in=EXCEPTION_KINDS,
        )
        .select_related("run", "payment", "wallet_transaction")
        .order_by("run__source", "pk")
    )


def unreconciled_sources(day: date) -> list[str]:
    """The sources that took money on `day` (by our books) with no run for `day`."""
    start, end = day_bounds(day)
    ran = set(ReconciliationRun.objects.filter(business_day=day).values_list("source", flat=True))
    moved = {
        Source.WALLET: lambda: WalletTransaction.objects.filter(
            Q(paid_at__gte=start, paid_at__lt=end)
            | Q(status=ReceiptStatus.REFUNDED, refunded_at__gte=start, refunded_at__lt=end)
        ).exists(),
        Source.BANKCARD: lambda: Payment.objects.filter(
            method=Source.BANKCARD, created_at__gte=start, created_at__lt=end
        ).exists(),
    }
    return [str(source) for source in Source.values if source not in ran and moved[source]()]
