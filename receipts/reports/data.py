"""Reports: the agent's end-of-day session report and the daily reports of a scope.

Selectors over the database: a fixed number of aggregate queries each,
whatever the number of payments (the tests pin the counts). Figures are
int piastres; the views format them.

The daily figures are those of the ledger: the agency shares and the
commission of a day's non-voided payments are exactly what the payment
transfers minus the void transfers credited to the payable and commission
accounts (tests/receipts/test_reports.py checks it).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from agents.models import Branch, Governorate
from core.clock import day_bounds
from core.money import format_amount
from counter import methods
from counter.methods import PaymentMethod
from counter.models import Payment, PaymentLine, TopUp
from float_management.models import (
    Entry,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    TransferKind,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

ReportScope = Branch | Governorate | None


def _pick(name_ar: str, name_en: str) -> str:
    return name_en if (get_language() or "ar").startswith("en") else name_ar


@dataclass(frozen=True)
class CountTotal:
    count: int = 0
    total: int = 0  # piastres


class _ByMethod:
    """Figures per payment method (counter.methods), in the registry's order.

    `row.cash`, `row.card` (any registered method's key) are that method's figures.
    """

    def figures(self, key: str) -> CountTotal:
        raise NotImplementedError

    def __getattr__(self, name: str) -> CountTotal:
        if name.startswith("_") or name not in methods.registered_keys():
            raise AttributeError(name)
        return self.figures(name)

    @property
    def columns(self) -> list[tuple[PaymentMethod, CountTotal]]:
        """Every registered method and its figures, none left out (zeros included)."""
        return [(method, self.figures(method.key)) for method in methods.all()]


@dataclass
class ServiceRow(_ByMethod):
    code: str
    name_ar: str
    name_en: str
    budget_item: str
    agency_code: str
    by_method: dict[str, CountTotal] = field(default_factory=dict)

    def figures(self, key: str) -> CountTotal:
        return self.by_method.get(key, CountTotal())

    @property
    def name(self) -> str:
        return _pick(self.name_ar, self.name_en)

    @property
    def count(self) -> int:
        return sum(f.count for f in self.by_method.values())

    @property
    def total(self) -> int:
        return sum(f.total for f in self.by_method.values())


@dataclass(frozen=True)
class BudgetItemRow:
    budget_item: str
    count: int
    total: int


@dataclass(frozen=True)
class AgencyRow:
    code: str
    name_ar: str
    name_en: str
    payments: int  # payments with a share for this agency
    total: int

    @property
    def name(self) -> str:
        return _pick(self.name_ar, self.name_en)


@dataclass(frozen=True)
class VoidRow:
    reference: str
    service_code: str
    service_name_ar: str
    service_name_en: str
    method: str
    total: int
    voided_at: datetime | None

    @property
    def service_name(self) -> str:
        return _pick(self.service_name_ar, self.service_name_en)

    @property
    def method_label(self) -> str:
        return methods.get(self.method).label


def _services_by_method(payments: QuerySet[Payment]) -> list[ServiceRow]:
    """One row per service, each payment method (counter.methods) apart: one query.

    A method nobody registers any more fails the report (KeyError) rather than
    have its money fall silently into another method's column.
    """
    rows: dict[str, ServiceRow] = {}
    for row in (
        payments.values(
            "service__code",
            "service__name_ar",
            "service__name_en",
            "service__budget_item",
            "service__agency__code",
            "method",
        )
        .annotate(n=Count("pk"), total=Sum("total"))
        .order_by("service__code", "method")
    ):
        service = rows.setdefault(
            row["service__code"],
            ServiceRow(
                code=row["service__code"],
                name_ar=row["service__name_ar"],
                name_en=row["service__name_en"],
                budget_item=row["service__budget_item"],
                agency_code=row["service__agency__code"],
            ),
        )
        service.by_method[methods.get(row["method"]).key] = CountTotal(row["n"], row["total"])
    return list(rows.values())


# --- The session report -----------------------------------------------------------------


def _sum(rows: list[ServiceRow], key: str) -> CountTotal:
    return CountTotal(
        sum(r.figures(key).count for r in rows), sum(r.figures(key).total for r in rows)
    )


@dataclass
class SessionReport(_ByMethod):
    """An agent's day at a till, from the opening float to the signed-off count."""

    session: TillSession
    opening_float: int
    float_top_ups: CountTotal
    cash_drops: CountTotal
    by_service: list[ServiceRow]
    card_top_ups: CountTotal
    voids: list[VoidRow]
    # Only once the close is signed off: before that the count is blind.
    counted: int | None
    expected: int | None
    variance: int | None

    @property
    def is_closed(self) -> bool:
        return self.session.status == SessionStatus.CLOSED

    @property
    def payments(self) -> CountTotal:
        return CountTotal(
            sum(r.count for r in self.by_service), sum(r.total for r in self.by_service)
        )

    def figures(self, key: str) -> CountTotal:
        return _sum(self.by_service, key)

    @property
    def till_payments(self) -> CountTotal:
        """Payments whose money came into the till as cash."""
        into_till = [self.figures(m.key) for m in methods.all() if m.into_till]
        return CountTotal(sum(f.count for f in into_till), sum(f.total for f in into_till))

    @property
    def voids_total(self) -> CountTotal:
        return CountTotal(len(self.voids), sum(v.total for v in self.voids))

    @property
    def cash_in_out(self) -> int:
        """Opening float + float top-ups + cash payments + card top-ups − cash drops."""
        return (
            self.opening_float
            + self.float_top_ups.total
            + self.till_payments.total
            + self.card_top_ups.total
            - self.cash_drops.total
        )


def session_report(session: TillSession) -> SessionReport:
    """The end-of-day report of `session` (six queries)."""
    session = TillSession.objects.select_related("agent", "counter", "branch").get(pk=session.pk)

    floats = {
        row["kind"]: row
        for row in Request.objects.filter(
            session=session,
            kind__in=[RequestKind.OPENING_FLOAT, RequestKind.TOP_UP_FLOAT],
            decision__approved=True,
        )
        .values("kind")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by()
    }
    top_ups = floats.get(RequestKind.TOP_UP_FLOAT, {"n": 0, "total": 0})
    drops = Entry.objects.filter(
        account_id=session.account_id, transfer__kind=TransferKind.CASH_DROP
    ).aggregate(n=Count("pk"), total=Coalesce(Sum("amount"), 0))
    by_service = _services_by_method(
        Payment.objects.filter(session=session, void_transfer__isnull=True)
    )
    card_top_ups = TopUp.objects.filter(session=session).aggregate(
        n=Count("pk"), total=Coalesce(Sum("amount"), 0)
    )
    voids = [
        VoidRow(
            reference=p.reference,
            service_code=p.service.code,
            service_name_ar=p.service.name_ar,
            service_name_en=p.service.name_en,
            method=p.method,
            total=p.total,
            voided_at=p.voided_at,
        )
        for p in Payment.objects.filter(session=session, void_transfer__isnull=False)
        .select_related("service")
        .order_by("voided_at", "pk")
    ]
    closed = session.status == SessionStatus.CLOSED
    return SessionReport(
        session=session,
        opening_float=floats.get(RequestKind.OPENING_FLOAT, {"total": 0})["total"],
        float_top_ups=CountTotal(top_ups["n"], top_ups["total"]),
        cash_drops=CountTotal(drops["n"], -drops["total"]),  # drops are credits to the till
        by_service=by_service,
        card_top_ups=CountTotal(card_top_ups["n"], card_top_ups["total"]),
        voids=voids,
        counted=session.counted if closed else None,
        expected=session.expected if closed else None,
        variance=session.variance if closed else None,
    )


# --- Daily reports ------------------------------------------------------------------------


@dataclass
class DailyReport(_ByMethod):
    """A day's payments in a scope (a branch, a governorate, or the nation when None)."""

    day: date
    scope: ReportScope
    by_service: list[ServiceRow]
    by_agency: list[AgencyRow]
    commission: int
    voids: CountTotal

    @property
    def scope_kind(self) -> str:
        if isinstance(self.scope, Branch):
            return "branch"
        if isinstance(self.scope, Governorate):
            return "governorate"
        return "nation"

    @property
    def scope_name(self) -> str:
        return _("All Egypt") if self.scope is None else self.scope.name

    @property
    def scope_code(self) -> str:
        return "EG" if self.scope is None else self.scope.code

    @property
    def by_budget_item(self) -> list[BudgetItemRow]:
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for row in self.by_service:
            sums[row.budget_item][0] += row.count
            sums[row.budget_item][1] += row.total
        return [BudgetItemRow(item, n, total) for item, (n, total) in sorted(sums.items())]

    @property
    def payments(self) -> CountTotal:
        return CountTotal(
            sum(r.count for r in self.by_service), sum(r.total for r in self.by_service)
        )

    def figures(self, key: str) -> CountTotal:
        return _sum(self.by_service, key)

    @property
    def agencies_total(self) -> int:
        return sum(r.total for r in self.by_agency)


def _scope_filter(scope: ReportScope, branch_path: str) -> Q:
    if isinstance(scope, Branch):
        return Q(**{f"{branch_path}_id": scope.pk})
    if isinstance(scope, Governorate):
        return Q(**{f"{branch_path}__governorate_id": scope.pk})
    return Q()


def daily_report(*, day: date, scope: ReportScope) -> DailyReport:
    """`day`'s payments in `scope`: by service, budget item and agency (three queries).

    Voided payments are left out of every figure and counted apart.
    """
    start, end = day_bounds(day)
    payments = Payment.objects.filter(
        _scope_filter(scope, "branch"), created_at__gte=start, created_at__lt=end
    )
    by_service = _services_by_method(payments.filter(void_transfer__isnull=True))

    # Each line's agency is the one it credited when posted (no agency: the post
    # office's commission), whatever the catalog says today.
    commission = 0
    by_agency: list[AgencyRow] = []
    for row in (
        PaymentLine.objects.filter(
            _scope_filter(scope, "payment__branch"),
            payment__created_at__gte=start,
            payment__created_at__lt=end,
            payment__void_transfer__isnull=True,
        )
        .values(
            agency_code=F("agency__code"),
            agency_name_ar=F("agency__name_ar"),
            agency_name_en=F("agency__name_en"),
        )
        .annotate(n=Count("payment_id", distinct=True), total=Sum("amount"))
        .order_by("agency_code")
    ):
        if row["agency_code"] is None:
            commission += row["total"]
        else:
            by_agency.append(
                AgencyRow(
                    code=row["agency_code"],
                    name_ar=row["agency_name_ar"],
                    name_en=row["agency_name_en"],
                    payments=row["n"],
                    total=row["total"],
                )
            )

    voids = payments.filter(void_transfer__isnull=False).aggregate(
        n=Count("pk"), total=Coalesce(Sum("total"), 0)
    )
    return DailyReport(
        day=day,
        scope=scope,
        by_service=by_service,
        by_agency=by_agency,
        commission=commission,
        voids=CountTotal(voids["n"], voids["total"]),
    )


# --- CSV -------------------------------------------------------------------------------------


def daily_csv_header() -> list[str]:
    """The CSV's columns: one amount column per payment method, `<key>_egp`."""
    columns = [f"{method.column.key}_egp" for method in methods.all()]
    return ["section", "code", "name_ar", "name_en", "count", "total_egp", *columns]


def _egp(piastres: int) -> str:
    """ "1234.50": two decimals, no thousands separator, as spreadsheets read it."""
    return format_amount(piastres).replace(",", "")


def daily_report_csv(report: DailyReport) -> str:
    """The report as CSV, one section per row kind; names in both languages.

    Starts with a byte order mark so that spreadsheet programs read the
    Arabic names as UTF-8.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write("\ufeff")
    writer.writerow(daily_csv_header())
    scope = report.scope
    none = [""] * len(report.columns)  # a row with no figure per method

    def per_method(figures: _ByMethod) -> list[str]:
        return [_egp(f.total) for _method, f in figures.columns]

    writer.writerow(
        [
            "scope",
            report.scope_code,
            "مصر" if scope is None else scope.name_ar,
            "Egypt" if scope is None else scope.name_en,
            "",
            "",
            *none,
        ]
    )
    writer.writerow(["day", report.day.isoformat(), "", "", "", "", *none])
    for row in report.by_service:
        writer.writerow(
            [
                "service",
                row.code,
                row.name_ar,
                row.name_en,
                row.count,
                _egp(row.total),
                *per_method(row),
            ]
        )
    for row in report.by_budget_item:
        writer.writerow(["budget_item", row.budget_item, "", "", row.count, _egp(row.total), *none])
    for row in report.by_agency:
        writer.writerow(
            ["agency", row.code, row.name_ar, row.name_en, row.payments, _egp(row.total), *none]
        )
    writer.writerow(["commission", "", "", "", "", _egp(report.commission), *none])
    writer.writerow(["voided", "", "", "", report.voids.count, _egp(report.voids.total), *none])
    writer.writerow(
        [
            "total",
            "",
            "",
            "",
            report.payments.count,
            _egp(report.payments.total),
            *per_method(report),
        ]
    )
    return out.getvalue()


def daily_report_filename(report: DailyReport, extension: str) -> str:
    return f"daily-{report.scope_kind}-{report.scope_code}-{report.day.isoformat()}.{extension}"
