"""Settlement: paying each agency what the counters collected for it on one business day.

For a Cairo calendar day, every non-voided payment's lines that are owed to
an agency (every kind but the post office's commission) are summed per
(payment, agency) into SettlementItems, per agency into one SettlementBatch,
and one ledger transfer per batch moves the money: each agency payable
account is debited by what is settled from it, the head office bank account
is credited with the batch total. The agency is paid on the value date, two
business days later.

Who is owed what, and from which account, is what each payment line
credited when it was posted (kept on the line, checked against the ledger's
entries), never today's catalog: a service moved to another agency or
renamed since does not move money that was already collected.

The rule that keeps voids and settlement consistent: a payment is voided
only while its till session is open (``counter.services.payments``), and a
day is settled only once it is over and every till session that was open
during it has closed. A closed session never reopens, so no payment of a
settled day can be voided afterwards, and no payment can be added to it.

Running a day twice posts once: the second run finds the day's batches and
returns them (or, with ``idempotent=False``, refuses). Two runs at the same
time queue on a lock of the bank account, and the UNIQUE constraints
(one batch per agency and day, one item per payment and agency) are the last
word should anything slip past.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Subquery, Sum
from django.utils.translation import gettext as _

from agents.permissions import Action, can
from core.clock import day_bounds, local_today, value_date_for, zone
from core.errors import InvalidState, NotAllowed
from core.money import format_amount
from core.retry import retry_on_conflict
from counter.models import Agency, PaymentLine
from float_management.ledger import account_for, transfer_post
from float_management.models import (
    Account,
    AccountKind,
    Entry,
    SessionStatus,
    TillSession,
    TransferKind,
)
from settlement.models import SettlementBatch, SettlementItem

BANK_KEY = "bank:head-office"
CSV_HEADER = ["reference", "service_code", "budget_item", "amount_egp", "branch_code", "paid_at"]
CONTROL = "CONTROL"


def bank_account() -> Account:
    return account_for(AccountKind.BANK, BANK_KEY)


def settlement_batches_of(business_day: date) -> list[SettlementBatch]:
    return list(
        SettlementBatch.objects.filter(business_day=business_day)
        .select_related("agency", "created_by")
        .order_by("agency__code")
    )


def _check_day_is_closed(business_day: date) -> None:
    """Refuse a day that is not over, or that still has till sessions able to post or void."""
    if business_day >= local_today():
        raise InvalidState(
            _("%(day)s is not over yet: a day is settled once it has ended.")
            % {"day": business_day.isoformat()}
        )
    _start, end = day_bounds(business_day)
    still_open = list(
        TillSession.objects.filter(
            status__in=[SessionStatus.OPEN, SessionStatus.CLOSING], opened_at__lt=end
        )
        .select_related("branch", "counter")
        .order_by("branch__code", "counter__number")[:11]
    )
    if still_open:
        names = ", ".join(f"{s.branch.code}/{s.counter.number}" for s in still_open[:10]) + (
            " …" if len(still_open) > 10 else ""
        )
        raise InvalidState(
            _(
                "Till sessions that were open on %(day)s are still open or closing "
                "(%(sessions)s). Their payments can still be voided, so the day is settled "
                "only after every one of them has closed."
            )
            % {"day": business_day.isoformat(), "sessions": names}
        )


def _unsettled_agency_lines(business_day: date):
    """The day's non-voided payment lines owed to an agency and not settled yet.

    The agency and account are those each line credited when it was posted:
    the catalog may have changed since (issue 12).
    """
    start, end = day_bounds(business_day)
    return PaymentLine.objects.filter(
        payment__created_at__gte=start,
        payment__created_at__lt=end,
        payment__void_transfer__isnull=True,
        agency__isnull=False,  # commission is the post office's
    ).exclude(
        Exists(
            SettlementItem.objects.filter(
                payment_id=OuterRef("payment_id"), agency_id=OuterRef("agency_id")
            )
        )
    )


def _check_lines_match_the_ledger(lines, owed: dict[int, int]) -> None:
    """Refuse unless each payable is owed what the payments' transfers credited it.

    A line says which account it credited; the ledger's entries say so too. They
    are written together, so a difference means the lines were altered since.
    """
    credited = dict(
        Entry.objects.filter(
            transfer__payment__in=lines.values("payment_id"),
            account__in=lines.values("account_id"),
        )
        .values_list("account_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    if {pk: -total for pk, total in credited.items() if total} != dict(owed):
        raise InvalidState(
            _("The day's payment lines do not match the ledger; nothing was settled.")
        )


def _settle(business_day: date, by) -> list[SettlementBatch]:
    lines = _unsettled_agency_lines(business_day)
    items_by_agency: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for row in (
        lines.values("agency_id", "payment_id")
        .annotate(amount=Sum("amount"))
        .order_by("agency_id", "payment_id")
    ):
        items_by_agency[row["agency_id"]].append((row["payment_id"], row["amount"]))
    if not items_by_agency:
        return []
    # What each agency is owed from each payable account it was credited to (payables
    # are kept per branch and service item, so an agency's batch debits several).
    debits: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in lines.values("agency_id", "account_id").annotate(amount=Sum("amount")).order_by():
        debits[row["agency_id"]][row["account_id"]] += row["amount"]
    owed: dict[int, int] = defaultdict(int)
    for by_account in debits.values():
        for account_id, amount in by_account.items():
            owed[account_id] += amount
    _check_lines_match_the_ledger(lines, owed)

    # Lock every payable in id order before posting (transfer_post locks again,
    # harmlessly): the batches' transfers then take no lock out of order.
    for account in Account.objects.select_for_update().filter(pk__in=owed).order_by("pk"):
        if account.kind != AccountKind.PAYABLE or account.balance < owed[account.pk]:
            raise InvalidState(
                _("%(account)s holds less than is to be settled from it; nothing was settled.")
                % {"account": account.key}
            )

    bank = bank_account()
    value_date = value_date_for(business_day)
    agencies = Agency.objects.in_bulk(list(items_by_agency))
    batches = []
    for agency in sorted(agencies.values(), key=lambda a: a.code):
        items = items_by_agency[agency.pk]
        total = sum(amount for _payment, amount in items)
        transfer = transfer_post(
            kind=TransferKind.SETTLEMENT,
            legs=[
                *((Account(pk=pk), amount) for pk, amount in debits[agency.pk].items()),
                (bank, -total),
            ],
            created_by=by,
            memo=f"{agency.code} {business_day.isoformat()}",
        )
        batch = SettlementBatch.objects.create(
            agency=agency,
            business_day=business_day,
            value_date=value_date,
            total=total,
            items_count=len(items),
            transfer=transfer,
            created_by=by,
        )
        SettlementItem.objects.bulk_create(
            [
                SettlementItem(batch=batch, payment_id=payment_id, agency=agency, amount=amount)
                for payment_id, amount in items
            ],
            batch_size=2000,
        )
        batches.append(batch)
    return batches


@retry_on_conflict
def settlement_run(*, business_day: date, by, idempotent: bool = True) -> list[SettlementBatch]:
    """Settle `business_day` to every agency; the batches, one per agency paid, by agency code.

    A day already settled posts nothing: its batches are returned, or with
    `idempotent=False` the run is refused. Refused (InvalidState) for a day
    not over yet or with till sessions still open or closing; NotAllowed for
    anyone but head office.
    """
    if not can(by, Action.SETTLE):
        raise NotAllowed(_("Only head office settles money to the agencies."))

    def already_settled(batches: list[SettlementBatch]) -> list[SettlementBatch]:
        if not idempotent:
            raise InvalidState(
                _("%(day)s is already settled; nothing was posted.")
                % {"day": business_day.isoformat()}
            )
        return batches

    try:
        with transaction.atomic():
            # One run at a time: every run locks the bank account first.
            Account.objects.select_for_update().filter(pk=bank_account().pk).first()
            existing = settlement_batches_of(business_day)
            if existing:
                return already_settled(existing)
            _check_day_is_closed(business_day)
            return _settle(business_day, by)
    except IntegrityError:
        # A batch or item of this day exists already: a concurrent run won.
        existing = settlement_batches_of(business_day)
        if not existing:
            raise
        return already_settled(existing)


# --- The settlement file and the confirmation ---------------------------------------


def _egp(piastres: int) -> str:
    """ "1234.50": two decimals, no thousands separator (a bank's import reads it)."""
    return format_amount(piastres).replace(",", "")


def settlement_csv(batch: SettlementBatch) -> str:
    """The batch's settlement file: a header, one line per payment, a control line.

    Columns: reference, service_code, budget_item, amount_egp, branch_code,
    paid_at (ISO 8601 in Cairo). The last line is
    ``CONTROL,<number of payments>,,<total>,,`` — the total under amount_egp.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    count = total = 0
    # The service code the payment was posted under (a line's), not the service's code today.
    posted_code = PaymentLine.objects.filter(
        payment_id=OuterRef("payment_id"), agency_id=OuterRef("agency_id")
    ).values("service_code")[:1]
    items = (
        batch.items.select_related("payment__service", "payment__branch")
        .annotate(service_code=Subquery(posted_code))
        .order_by("payment__created_at", "payment_id")
    )
    for item in items:
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
    if (count, total) != (batch.items_count, batch.total):
        raise InvalidState(_("This batch's items do not match its total; the file was not made."))
    writer.writerow([CONTROL, str(count), "", _egp(total), "", ""])
    return out.getvalue()


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
