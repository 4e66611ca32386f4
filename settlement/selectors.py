"""Settlement, read: a day's batches, the pages' batch lists, a batch's file and confirmation.

Also what the agencies' own systems have not confirmed of a day (agencies' outbox):
a day's batch for an agency waits for them (settlement.services).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.utils.translation import gettext as _

from agencies.models import Notification, NotificationStatus
from core.clock import day_bounds, zone
from core.errors import InvalidState
from core.money import format_amount
from counter.models import PaymentLine
from settlement.models import SettlementBatch, SettlementItem

UNRESOLVED = (NotificationStatus.PENDING, NotificationStatus.UNKNOWN)
NOTIFICATION_EXCEPTIONS_SHOWN = 200


def _day_notifications(business_day: date) -> QuerySet[Notification]:
    """The notifications of the day's payments (and of their voids), whatever their state."""
    start, end = day_bounds(business_day)
    return Notification.objects.filter(payment__created_at__gte=start, payment__created_at__lt=end)


def agencies_waiting_on_notifications(business_day: date) -> dict[int, int]:
    """Agency id → how many of the day's notifications to it are not resolved (one query)."""
    return dict(
        _day_notifications(business_day)
        .filter(status__in=UNRESOLVED)
        .values_list("agency_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def day_notification_exceptions(
    business_day: date, *, limit: int = NOTIFICATION_EXCEPTIONS_SHOWN
) -> list[Notification]:
    """The day's notifications an agency has not confirmed: waiting, unknown or refused.

    By agency, then oldest first; at most `limit` (a day the worker was down could
    hold thousands: the page shows the first and says how many there are per agency
    in its refusal message).
    """
    return list(
        _day_notifications(business_day)
        .filter(status__in=[*UNRESOLVED, NotificationStatus.REFUSED])
        .select_related("agency", "payment")
        .order_by("agency__code", "created_at", "pk")[:limit]
    )


CSV_HEADER = ["reference", "service_code", "budget_item", "amount_egp", "branch_code", "paid_at"]
CONTROL = "CONTROL"


def settlement_batches_of(business_day: date) -> list[SettlementBatch]:
    return list(
        SettlementBatch.objects.filter(business_day=business_day)
        .select_related("agency", "created_by")
        .order_by("agency__code")
    )


def settlement_batches(*, agency_code: str = "") -> QuerySet[SettlementBatch]:
    """The batches, latest day first, with their agency and author; one agency's if given."""
    batches = SettlementBatch.objects.select_related("agency", "created_by").order_by(
        "-business_day", "agency__code"
    )
    if agency_code:
        batches = batches.filter(agency__code=agency_code)
    return batches


def _egp(piastres: int) -> str:
    """ "1234.50": two decimals, no thousands separator (a bank's import reads it)."""
    return format_amount(piastres).replace(",", "")


CSV_ROWS_PER_CHUNK = 2000


def _items_for_the_file(batch: SettlementBatch) -> QuerySet[SettlementItem]:
    # The service code the payment was posted under (a line's), not the service's code today.
    posted_code = PaymentLine.objects.filter(
        payment_id=OuterRef("payment_id"), agency_id=OuterRef("agency_id")
    ).values("service_code")[:1]
    return (
        batch.items.select_related("payment__service", "payment__branch")
        .annotate(service_code=Subquery(posted_code))
        .order_by("payment__created_at", "payment_id")
    )


def settlement_csv_check(batch: SettlementBatch) -> None:
    """Refuse a batch whose items do not add up to it, before any of its file is sent.

    The file checks again as it ends (a streamed file cannot take its first line back):
    one that fails there stops without its control line, so it cannot pass for whole.
    """
    found = batch.items.aggregate(count=Count("pk"), total=Sum("amount"))
    if (found["count"], found["total"] or 0) != (batch.items_count, batch.total):
        raise InvalidState(_("This batch's items do not match its total; the file was not made."))


def settlement_csv_chunks(
    batch: SettlementBatch, *, rows_per_chunk: int = CSV_ROWS_PER_CHUNK
) -> Iterator[str]:
    """The batch's settlement file, lazily, a few thousand lines at a time.

    A header, one line per payment, a control line. Columns: reference,
    service_code, budget_item, amount_egp, branch_code, paid_at (ISO 8601 in
    Cairo). The last line is ``CONTROL,<number of payments>,,<total>,,`` — the
    total under amount_egp. The items are read with ``iterator()`` in one query,
    so a national day's file (330,000 lines) is never held whole in memory.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    count = total = 0
    for item in _items_for_the_file(batch).iterator(chunk_size=rows_per_chunk):
        payment = item.payment
        writer.writerow(
            [
                payment.reference,
                item.service_code,
                payment.service.budget_item,
                _egp(item.amount),
                payment.branch.code,
                payment.created_at.astimezone(zone()).isoformat(timespec="seconds"),
            ]
        )
        count += 1
        total += item.amount
        if count % rows_per_chunk == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if (count, total) != (batch.items_count, batch.total):
        raise InvalidState(_("This batch's items do not match its total; the file was not made."))
    writer.writerow([CONTROL, str(count), "", _egp(total), "", ""])
    yield out.getvalue()


def settlement_csv(batch: SettlementBatch) -> str:
    """The batch's whole settlement file as one string (see `settlement_csv_chunks`)."""
    return "".join(settlement_csv_chunks(batch))


def settlement_csv_filename(batch: SettlementBatch) -> str:
    return f"settlement-{batch.agency.code}-{batch.business_day.isoformat()}.csv"


@dataclass(frozen=True)
class SettlementConfirmation:
    """What an agency is told: which batch, paid when, how much, for how many payments."""

    batch_id: int
    agency_code: str
    agency_name_ar: str
    agency_name_en: str
    business_day: date
    value_date: date
    total: int  # piastres
    items_count: int
    transfer_id: int | None
    settled_by: str
    settled_at: datetime


def settlement_confirmation(batch: SettlementBatch) -> SettlementConfirmation:
    return SettlementConfirmation(
        batch_id=batch.pk,
        agency_code=batch.agency.code,
        agency_name_ar=batch.agency.name_ar,
        agency_name_en=batch.agency.name_en,
        business_day=batch.business_day,
        value_date=batch.value_date,
        total=batch.total,
        items_count=batch.items_count,
        transfer_id=batch.transfer_id,
        settled_by=batch.created_by.get_full_name() or batch.created_by.get_username(),
        settled_at=batch.created_at,
    )
