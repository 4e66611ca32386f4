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


@retry_on_conflict
def receipt_print(*, user: User, receipt: Receipt, layout: str) -> ReceiptPrint:
    """Print `receipt` once more: the original the first time, then COPY 2, COPY 3, …

    The payment's (or top-up's) own agent prints; the branch supervisor may
    reprint. Every print is recorded and audited in the printer's stream.
    """
    if layout not in ReceiptPrint.Layout.values:
        raise InvalidState(_("Choose the 80 mm roll or A4."))
    role = selectors.printer_role(user, receipt)
    if role is None:
        raise NotAllowed(
            _(
                "Only the agent who took the payment prints its receipt; "
                "a reprint is the branch supervisor's."
            )
        )
    # Restored if the transaction rolls back, so that a retry starts from the database.
    before = (receipt.pk, receipt._state.adding, receipt.original_printed_at, receipt.reprints)
    try:
        with transaction.atomic():
            _saved(receipt)
            number = _next_number(receipt)
            printed = ReceiptPrint.objects.create(
                receipt=receipt, number=number, layout=layout, printed_by=user
            )
            audit_log.append(
                stream=audit_log.user_stream(user.pk),
                action="receipt.original_printed" if number == 1 else "receipt.copy_printed",
                actor=user,
                object_type="receipt",
                object_id=receipt.reference,
                branch=selectors.branch_of(receipt),
                data={"number": number, "layout": layout, "kind": receipt.kind, "by": role},
            )
    except BaseException:
        receipt.pk, receipt._state.adding, receipt.original_printed_at, receipt.reprints = before
        raise
    return printed
