"""A void slip gets its number when the void is approved, so no page view has to make it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.dispatch import receiver

from counter.checkdigit import new_reference
from float_management import signals
from float_management.models import RequestKind
from receipts.models import Receipt

if TYPE_CHECKING:
    from float_management.models import Decision, Request


@receiver(signals.request_decided, dispatch_uid="receipts.void_slip")
def void_slip_on_approval(
    sender: type[Request], request: Request, decision: Decision, **kwargs: Any
) -> None:
    if request.kind != RequestKind.VOID or not decision.approved:
        return
    try:
        with transaction.atomic():
            Receipt.objects.get_or_create(
                payment_id=request.subject_id,
                kind=Receipt.Kind.VOID,
                defaults={"reference": new_reference()},
            )
    except IntegrityError:  # made by a concurrent delivery of the same signal
        pass
