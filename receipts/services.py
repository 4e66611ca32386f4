"""Printing receipts: the only writes of the receipts' own pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import log as audit_log
from core.errors import InvalidState, NotAllowed
from core.retry import retry_on_conflict
from receipts import selectors
from receipts.models import Receipt, ReceiptPrint

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _saved(receipt: Receipt) -> Receipt:
    """The receipt's row, made now if this is its first print (two first prints: one row)."""
    if receipt.pk is not None:
        return receipt
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the outer one usable
            receipt.save(force_insert=True)
    except IntegrityError:
        receipt.pk = Receipt.objects.values_list("pk", flat=True).get(reference=receipt.reference)
        receipt._state.adding = False
    return receipt


def _next_number(receipt: Receipt) -> int:
    """1 for the first print (the original), then 2, 3, … for the copies.

    Each step is one atomic UPDATE: of two prints at once, exactly one finds
    the original unprinted, and the copies' counter is incremented in place.
    """
    now = timezone.now()
    rows = Receipt.objects.filter(pk=receipt.pk, original_printed_at__isnull=True)
    if rows.update(original_printed_at=now):
        receipt.original_printed_at = now
        return 1
    Receipt.objects.filter(pk=receipt.pk).update(reprints=F("reprints") + 1)
    receipt.reprints = Receipt.objects.values_list("reprints", flat=True).get(pk=receipt.pk)
    return receipt.reprints + 1


def _audit_print(user: User, receipt: Receipt, number: int, layout: str, role: str) -> None:
    audit_log.append(
        stream=audit_log.user_stream(user.pk),
        action="receipt.original_printed" if number == 1 else "receipt.copy_printed",
        actor=user,
        object_type="receipt",
        object_id=receipt.reference,
        branch=selectors.branch_of(receipt),
        data={"number": number, "layout": layout, "kind": receipt.kind, "by": role},
    )


def _refuse_unless_printer(user: User, receipt: Receipt) -> str:
    role = selectors.printer_role(user, receipt)
    if role is None:
        raise NotAllowed(
            _(
                "Only the agent who took the payment prints its receipt; "
                "a reprint is the branch supervisor's."
            )
        )
    return role


@retry_on_conflict
def receipt_print_original(*, user: User, receipt: Receipt) -> ReceiptPrint | None:
    """Print the original of a receipt that has no row yet (a payment just posted), on the roll.

    Its row is made with the original printed in one statement. None, printing
    nothing, when the row exists already: the original was printed (a retried
    confirmation comes back with its payment; the agent prints a copy if needed).
    """
    role = _refuse_unless_printer(user, receipt)
    layout = ReceiptPrint.Layout.ROLL
    try:
        with transaction.atomic():
            receipt.original_printed_at = timezone.now()
            receipt.save(force_insert=True)
            printed = ReceiptPrint.objects.create(
                receipt=receipt, number=1, layout=layout, printed_by=user
            )
            _audit_print(user, receipt, 1, layout, role)
    except IntegrityError:
        receipt.pk, receipt._state.adding, receipt.original_printed_at = None, True, None
        if not Receipt.objects.filter(reference=receipt.reference).exists():
            raise  # not the receipt's row: something else went wrong
        return None
    except BaseException:
        receipt.pk, receipt._state.adding, receipt.original_printed_at = None, True, None
        raise
    return printed


@retry_on_conflict
def receipt_print(*, user: User, receipt: Receipt, layout: str) -> ReceiptPrint:
    """Print `receipt` once more: the original the first time, then COPY 2, COPY 3, …

    The payment's (or top-up's) own agent prints; the branch supervisor may
    reprint. Every print is recorded and audited in the printer's stream.
    """
    if layout not in ReceiptPrint.Layout.values:
        raise InvalidState(_("Choose the 80 mm roll or A4."))
    role = _refuse_unless_printer(user, receipt)
    # Restored if the transaction rolls back, so that a retry starts from the database.
    before = (receipt.pk, receipt._state.adding, receipt.original_printed_at, receipt.reprints)
    try:
        with transaction.atomic():
            _saved(receipt)
            number = _next_number(receipt)
            printed = ReceiptPrint.objects.create(
                receipt=receipt, number=number, layout=layout, printed_by=user
            )
            _audit_print(user, receipt, number, layout, role)
    except BaseException:
        receipt.pk, receipt._state.adding, receipt.original_printed_at, receipt.reprints = before
        raise
    return printed
