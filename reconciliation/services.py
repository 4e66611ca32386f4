"""Reconciling an outside system's daily file against our ledger, one source and day at a time.

- Wallet: their payment rows against our WalletTransactions paid that day, of
  every status (the provider took that money whether it paid its payment or
  is owed back), by transaction id; their refund rows (negative) against our
  transactions refunded that day, by (transaction id, refund).
- Bank card: their rows against our bank-card Payments made that day, by
  "terminal:approval code". A voided payment still counts as ours: the
  acquirer took the card's money all the same (the line says it was voided).

The file is fetched before the transaction (a provider that cannot be reached
saves nothing); our side is read in one query and the lines written in one
bulk insert, in one transaction, whatever the size of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from core.clock import day_bounds
from counter.models import Payment
from reconciliation.models import (
    Entry,
    ItemKind,
    ReconciliationItem,
    ReconciliationRun,
    Source,
)
from wallet.models import ReceiptStatus, WalletTransaction
from wallet.providers import get_acquirer, get_wallet_provider

if TYPE_CHECKING:
    from django.contrib.auth.models import User

BANKCARD = "bankcard"


@dataclass(frozen=True)
class Line:
    """A line of one side, reduced to what is matched and shown."""

    entry: str
    key: str
    amount: int
    at: datetime | None = None
    payment_id: int | None = None
    wallet_transaction_id: int | None = None
    note: str = ""


def their_lines(*, source: str, day: date) -> list[Line]:
    """The provider's file for `day` (raises wallet.providers.ProviderError when it cannot)."""
    if source == Source.WALLET:
        return [
            Line(
                entry=Entry.REFUND if row.kind == "refund" else Entry.PAYMENT,
                key=row.txn_id,
                amount=row.amount,
                at=row.paid_at,
            )
            for row in get_wallet_provider().settlement_file(day)
        ]
    return [
        Line(
            entry=Entry.PAYMENT,
            key=f"{row.terminal_id}:{row.approval_code}",
            amount=row.amount,
            at=row.authorized_at,
        )
        for row in get_acquirer().settlement_file(day)
    ]


def our_lines(*, source: str, day: date) -> list[Line]:
    """Our side of `day` for `source`, in one query."""
    start, end = day_bounds(day)
    if source == Source.WALLET:
        paid = Q(paid_at__gte=start, paid_at__lt=end)
        refunded = Q(status=ReceiptStatus.REFUNDED, refunded_at__gte=start, refunded_at__lt=end)
        lines = []
        for pk, txn_id, amount, payment_id, paid_at, status, refunded_at in (
            WalletTransaction.objects.filter(paid | refunded)
            .order_by("pk")
            .values_list("pk", "txn_id", "amount", "payment_id", "paid_at", "status", "refunded_at")
        ):
            if start <= paid_at < end:
                lines.append(
                    Line(
                        entry=Entry.PAYMENT,
                        key=txn_id,
                        amount=amount,
                        payment_id=payment_id,
                        wallet_transaction_id=pk,
                        note="" if status == ReceiptStatus.APPLIED else _status_note(status),
                    )
                )
            if status == ReceiptStatus.REFUNDED and start <= refunded_at < end:
                lines.append(
                    Line(
                        entry=Entry.REFUND,
                        key=txn_id,
                        amount=-amount,
                        payment_id=payment_id,
                        wallet_transaction_id=pk,
                    )
                )
        return lines
    return [
        Line(
            entry=Entry.PAYMENT,
            key=external_reference,
            amount=total,
            payment_id=pk,
            note=_("Voided at our counter") if voided_at else "",
        )
        for pk, external_reference, total, voided_at in Payment.objects.filter(
            method=BANKCARD, created_at__gte=start, created_at__lt=end
        )
        .order_by("pk")
        .values_list("pk", "external_reference", "total", "voided_at")
    ]


def _status_note(status: str) -> str:
    return _("Not paid into a payment: %(status)s") % {
        "status": ReceiptStatus(status).label,
    }


def lines_match(*, ours: list[Line], theirs: list[Line]) -> list[ReconciliationItem]:
    """The items (unsaved, no run yet): their lines in their order, then ours left over."""
    by_key: dict[tuple[str, str], Line] = {}
    items = []
    for line in ours:
        if (line.entry, line.key) in by_key:
            # The same key twice in our books: the second one cannot match anything.
            items.append(_only_ours(line, note=_("The same key twice in our books")))
        else:
            by_key[(line.entry, line.key)] = line
    seen: set[tuple[str, str]] = set()
    for line in theirs:
        key = (line.entry, line.key)
        mine = by_key.pop(key, None)
        if mine is None:
            twice = key in seen
            items.append(
                ReconciliationItem(
                    kind=ItemKind.ONLY_THEIRS,
                    entry=line.entry,
                    their_key=line.key,
                    their_amount=line.amount,
                    their_at=line.at,
                    note=_("Listed again in their file") if twice else "",
                )
            )
        else:
            items.append(
                ReconciliationItem(
                    kind=(
                        ItemKind.MATCHED if mine.amount == line.amount else ItemKind.AMOUNT_DIFFERS
                    ),
                    entry=line.entry,
                    their_key=line.key,
                    our_amount=mine.amount,
                    their_amount=line.amount,
                    their_at=line.at,
                    payment_id=mine.payment_id,
                    wallet_transaction_id=mine.wallet_transaction_id,
                    note=mine.note,
                )
            )
        seen.add(key)
    items.extend(_only_ours(line) for line in by_key.values())
    return items


def _only_ours(line: Line, note: str = "") -> ReconciliationItem:
    return ReconciliationItem(
        kind=ItemKind.ONLY_OURS,
        entry=line.entry,
        their_key=line.key,
        our_amount=line.amount,
        payment_id=line.payment_id,
        wallet_transaction_id=line.wallet_transaction_id,
        note="; ".join(part for part in (line.note, note) if part),
    )


def reconciliation_run(*, source: str, business_day: date, by: User | None) -> ReconciliationRun:
    """Fetch `source`'s file for `business_day`, match it against our books and keep the result.

    Raises wallet.providers.ProviderError (ProviderUnavailable: try again later)
    before anything is written. A day run again gets a new run; the latest counts.
    """
    if source not in Source.values:
        raise ValueError(f"unknown reconciliation source {source!r}")
    theirs = their_lines(source=source, day=business_day)
    with transaction.atomic():
        ours = our_lines(source=source, day=business_day)
        items = lines_match(ours=ours, theirs=theirs)
        counts = dict.fromkeys(ItemKind.values, 0)
        for item in items:
            counts[item.kind] += 1
        run = ReconciliationRun.objects.create(
            source=source,
            business_day=business_day,
            ran_by=by,
            matched=counts[ItemKind.MATCHED],
            only_ours=counts[ItemKind.ONLY_OURS],
            only_theirs=counts[ItemKind.ONLY_THEIRS],
            amount_differs=counts[ItemKind.AMOUNT_DIFFERS],
            total_ours=sum(line.amount for line in ours),
            total_theirs=sum(line.amount for line in theirs),
        )
        for item in items:
            item.run = run
        ReconciliationItem.objects.bulk_create(items, batch_size=1000)
    return run
