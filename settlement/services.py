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

Settling runs in short transactions, one per agency batch (issue 14): each
locks the head office bank account, writes its batch and items, then locks
only that agency's payable accounts (in id order, last) to post the batch's
transfer, and commits before the next agency. A counter crediting another
agency's payables never waits for settlement; one crediting this agency's
waits for the posting of one transfer (well under a second on a national
day), not for the batch's items nor for the day.

Running a day twice posts once: every batch transaction takes the bank
account's lock first and, holding it, looks again for the agency's batch of
the day and for its unsettled lines, so two runs at the same time take turns
batch by batch and each skips what the other settled. The UNIQUE constraints
(one batch per agency and day, one item per payment and agency) are the last
word should anything slip past. A run stopped half-way (a crash, a deploy)
leaves whole batches, each matching its ledger transfer; running the day again
settles the rest. A fully settled day returns its batches (or, with
``idempotent=False``, is refused); a partly settled day is always continued.

An agency whose own system has not confirmed every notification of the day's
payments to it (agencies' outbox: pending, or unknown while the worker asks)
is held back: its batch is not cut, the other agencies' are, and the run ends
with `SettlementHeld` naming it. Holding rather than cutting the file with a
list of what is unconfirmed is what finance wants: a batch is money leaving on
the value date, and an unconfirmed payment may still be refused by the agency
(the citizen is then owed a refund); money paid out for it would have to be
claimed back from the agency by hand. Holding costs the agency a day at most
once the worker resolves them; running the day again settles it. Refused
notifications are resolved (the agency said no; the refund follows its own
path) and do not hold a batch; the settlement page lists them with the
unresolved ones (selectors.day_notification_exceptions). No notification of a
day can appear once its tills have closed (no payment, no void), and a
resolved one never becomes unresolved, so the check needs no lock.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Sum, Value
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
from reconciliation.models import Source as ReconciliationSource
from reconciliation.selectors import unreconciled_sources
from settlement.models import SettlementBatch, SettlementItem
from settlement.selectors import agencies_waiting_on_notifications, settlement_batches_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

BANK_KEY = "bank:head-office"


class SettlementHeld(InvalidState):
    """Some agencies' batches were held: their systems have not confirmed the day yet.

    The others were settled (`batches`, every batch of the day); `held` names the
    agencies held back and how many of their notifications are unresolved.
    """

    def __init__(
        self, *, business_day: date, held: list[tuple[Agency, int]], batches: list[SettlementBatch]
    ) -> None:
        self.business_day, self.held, self.batches = business_day, held, batches
        super().__init__(
            _(
                "Not settled on %(day)s: %(agencies)s. Their systems have not yet confirmed "
                "every payment of the day (the number waiting is in brackets); a batch is cut "
                "once the agency has confirmed them all, so no money leaves for a payment it "
                "may still refuse. The other agencies are settled. Settle the day again when "
                "these are resolved."
            )
            % {
                "day": business_day.isoformat(),
                "agencies": ", ".join(f"{agency.code} ({n})" for agency, n in held),
            }
        )


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


def _check_day_is_reconciled(business_day: date) -> None:
    """Refuse a day whose wallet or bank-card money was not yet matched to its provider's file.

    A day reconciled with exceptions is settled: they are listed with its batches
    (reconciliation.selectors.day_exceptions), for head office to follow up.
    """
    waiting = unreconciled_sources(business_day)
    if waiting:
        labels = dict(ReconciliationSource.choices)
        raise InvalidState(
            _(
                "Reconcile the daily file of %(sources)s for %(day)s first: the agencies are "
                "paid for money the providers have confirmed."
            )
            % {
                "sources": ", ".join(str(labels[source]) for source in waiting),
                "day": business_day.isoformat(),
            }
        )


def _day_agency_lines(business_day: date) -> QuerySet[PaymentLine]:
    """The day's non-voided payment lines owed to an agency, settled or not.

    The agency and account are those each line credited when it was posted:
    the catalog may have changed since (issue 12).
    """
    start, end = day_bounds(business_day)
    return PaymentLine.objects.filter(
        payment__created_at__gte=start,
        payment__created_at__lt=end,
        payment__void_transfer__isnull=True,
        # Given back to the citizen before it was settled: its payable went back too.
        payment__agency_refund__isnull=True,
        agency__isnull=False,  # commission is the post office's
    )


def _unsettled_agency_lines(business_day: date) -> QuerySet[PaymentLine]:
    """The day's lines owed to an agency whose (payment, agency) share is not settled yet."""
    return _day_agency_lines(business_day).exclude(
        Exists(
            SettlementItem.objects.filter(
                payment_id=OuterRef("payment_id"), agency_id=OuterRef("agency_id")
            )
        )
    )


def _check_lines_match_the_ledger(lines: QuerySet[PaymentLine]) -> None:
    """Refuse unless each payable is owed what the payments' transfers credited it.

    A line says which account it credited; the ledger's entries say so too. They
    are written together, so a difference means the lines were altered since.
    """
    owed = dict(lines.values_list("account_id").annotate(total=Sum("amount")).order_by())
    credited = dict(
        Entry.objects.filter(
            transfer__payment__in=lines.values("payment_id"),
            account__in=lines.values("account_id"),
        )
        .values_list("account_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    if {pk: -total for pk, total in credited.items() if total} != owed:
        raise InvalidState(
            _("The day's payment lines do not match the ledger; nothing was settled.")
        )


def _agencies_owed(business_day: date) -> list[Agency]:
    """The agencies with a share of the day not settled yet, by code."""
    owed = _unsettled_agency_lines(business_day).values("agency_id").order_by()
    return list(Agency.objects.filter(pk__in=owed).order_by("code"))


def _settlement_items_write(*, batch: SettlementBatch, lines: QuerySet[PaymentLine]) -> int:
    """Write `batch`'s items, each payment's share of `lines`, in one INSERT … SELECT.

    A national batch has 330,000 items: built as objects and sent back they cost the
    run a minute; the database makes them from the lines it has just read in seconds.
    Returns how many were written.
    """
    shares = (
        lines.values("payment_id")
        .annotate(batch_id=Value(batch.pk), amount=Sum("amount"))
        .values("batch_id", "payment_id", "agency_id", "amount")
        .order_by()
    )
    sql, params = shares.query.sql_with_params()
    table = SettlementItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ("batch_id", "payment_id", "agency_id", "amount") {sql}', params
        )
        return cursor.rowcount


def _settle_agency(*, business_day: date, agency: Agency, by: User) -> SettlementBatch | None:
    """Settle one agency's share of the day in one transaction; None if there is none left.

    Idempotent: under the bank account's lock (every batch of every run takes it first),
    an agency already settled for the day, or with nothing left to settle, posts nothing.
    Only this agency's payables are locked, so counters crediting other agencies' payables
    go on while it runs.
    """
    with transaction.atomic():
        # One batch at a time across runs: a concurrent run waits here, then sees this
        # batch committed and skips it.
        bank = bank_account()
        Account.objects.select_for_update().filter(pk=bank.pk).first()
        if SettlementBatch.objects.filter(agency=agency, business_day=business_day).exists():
            return None
        lines = _unsettled_agency_lines(business_day).filter(agency=agency)
        # The agency's payables (kept per branch and fee, so a national batch debits 39,000).
        debits = dict(lines.values_list("account_id").annotate(amount=Sum("amount")).order_by())
        if not debits:
            return None
        _check_lines_match_the_ledger(lines)

        total = sum(debits.values())
        # The batch and its items first, under the bank's lock only: the agency's payables,
        # which counters credit all day, are locked last and held just to post the transfer.
        batch = SettlementBatch.objects.create(
            agency=agency,
            business_day=business_day,
            value_date=value_date_for(business_day),
            total=total,
            items_count=0,
            created_by=by,
        )
        batch.items_count = _settlement_items_write(batch=batch, lines=lines)
        batch.transfer = transfer_post(
            kind=TransferKind.SETTLEMENT,
            legs=[
                *((Account(pk=pk), amount) for pk, amount in debits.items()),
                (bank, -total),
            ],
            created_by=by,
            memo=f"{agency.code} {business_day.isoformat()}",
        )
        # Locked by the transfer now: a payable that held less than its debit is below zero.
        short = (
            Account.objects.filter(entries__transfer=batch.transfer)
            .exclude(pk=bank.pk)
            .filter(~Q(kind=AccountKind.PAYABLE) | Q(balance__lt=0))
            .values_list("key", flat=True)
        )
        if (key := short.first()) is not None:
            raise InvalidState(
                _("%(account)s holds less than is to be settled from it; nothing was settled.")
                % {"account": key}
            )
        batch.save(update_fields=["items_count", "transfer"])
        return batch


@retry_on_conflict
def _settle_agency_once(*, business_day: date, agency: Agency, by: User) -> None:
    try:
        _settle_agency(business_day=business_day, agency=agency, by=by)
    except IntegrityError:
        # This agency's batch or an item exists already: a concurrent run won.
        if not SettlementBatch.objects.filter(agency=agency, business_day=business_day).exists():
            raise


def settlement_run(
    *, business_day: date, by: User, idempotent: bool = True
) -> list[SettlementBatch]:
    """Settle `business_day` to every agency; the day's batches, one per agency paid, by code.

    One short transaction per agency batch (see the module's docstring). A day
    already fully settled posts nothing: its batches are returned, or with
    `idempotent=False` the run is refused. A day partly settled (a run stopped
    half-way) is continued whatever `idempotent` says, since nothing can be
    posted twice: the rest is settled and all the day's batches returned.
    Refused (InvalidState) for a day not over yet or with till sessions still
    open or closing; NotAllowed for anyone but head office. An agency whose
    system has not confirmed the day is held back: the others are settled, then
    SettlementHeld is raised (see the module's docstring).
    """
    if not can(by, Action.SETTLE):
        raise NotAllowed(_("Only head office settles money to the agencies."))

    agencies = _agencies_owed(business_day)
    if not agencies:
        existing = settlement_batches_of(business_day)
        if existing:
            if not idempotent:
                raise InvalidState(
                    _("%(day)s is already settled; nothing was posted.")
                    % {"day": business_day.isoformat()}
                )
            return existing
    _check_day_is_closed(business_day)
    _check_day_is_reconciled(business_day)
    # The whole day's lines against the ledger before the first batch, so a day with an
    # altered line settles nothing. (The settled lines too: that set no run changes.)
    _check_lines_match_the_ledger(_day_agency_lines(business_day))
    waiting = agencies_waiting_on_notifications(business_day)
    held = [(agency, waiting[agency.pk]) for agency in agencies if agency.pk in waiting]
    for agency in agencies:
        if agency.pk not in waiting:
            _settle_agency_once(business_day=business_day, agency=agency, by=by)
    batches = settlement_batches_of(business_day)
    if held:
        raise SettlementHeld(business_day=business_day, held=held, batches=batches)
    return batches
