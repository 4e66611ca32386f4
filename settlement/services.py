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

from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils.translation import gettext as _

from agents.permissions import Action, can
from core.clock import day_bounds, local_today, value_date_for
from core.errors import InvalidState, NotAllowed
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
from settlement.selectors import settlement_batches_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

BANK_KEY = "bank:head-office"


def bank_account() -> Account:
    return account_for(AccountKind.BANK, BANK_KEY)


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


def _unsettled_agency_lines(business_day: date) -> QuerySet[PaymentLine]:
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


def _check_lines_match_the_ledger(lines: QuerySet[PaymentLine], owed: dict[int, int]) -> None:
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


def _settle(business_day: date, by: User) -> list[SettlementBatch]:
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
def settlement_run(
    *, business_day: date, by: User, idempotent: bool = True
) -> list[SettlementBatch]:
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
