"""A paid request's status, as the agency pushes it: stored, applied in order, told by SMS.

`status_change_receive` is the webhook's one write. Every change the agency sends is
stored once (by its `change_id`); whether it also moves the request's status is decided
by the agency's own clock (`changed_at`) and NEXT_STATUSES:

- newer than the last change applied (or the request is still "submitted", a status of
  our own clock): it must be a legal next status, else IllegalTransition (409) and
  nothing is written. It moves the status, texts the citizen, and a refundable
  rejection opens the refund (agencies.refunds) in the same transaction;
- older than the last change applied (delivered out of order): it is stored as history
  and moves nothing, if the present status can have followed it; a change the present
  status cannot have followed (a rejection older than the pickup) is IllegalTransition.
  No SMS for it: the citizen already had the newer news.

The SMS goes only to the mobile bound to the citizen's national ID (verified by a code);
a payment without a citizen, or a citizen without a bound mobile, gets none. It is
Arabic and at most 70 characters: one UCS-2 segment, one message on any phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import (
    NEXT_STATUSES,
    RefundReason,
    RequestStatus,
    ServiceRequest,
    StatusChange,
)
from agencies.refunds import refund_open
from audit import log as audit_log
from core.errors import DomainError
from core.retry import retry_on_conflict
from counter.sms import send_sms

if TYPE_CHECKING:
    from counter.models import Agency, Payment


class UnknownRequest(DomainError):
    """No request of this agency is opened by that payment reference."""


class IllegalTransition(DomainError):
    """The change does not follow from the request's status."""


@dataclass(frozen=True)
class Received:
    change: StatusChange
    # "applied" (the status moved), "stored" (an older change, kept as history) or
    # "duplicate" (this change_id was received before).
    outcome: str


# --- The citizen's SMS --------------------------------------------------------------

SMS_LIMIT = 70  # UCS-2 characters in one segment (Arabic is never GSM-7)

# The citizen's SMS is Arabic whatever the agent's language: literal here, not from the
# catalogue, so that no translation can make it a second segment (tests count them all).
_SMS_BODIES: dict[tuple[str, bool], str] = {
    (RequestStatus.SUBMITTED, False): "البريد: طلبكم {ref} قُدّم للجهة المختصة.",
    (RequestStatus.IN_REVIEW, False): "البريد: طلبكم {ref} قيد المراجعة لدى الجهة.",
    (RequestStatus.READY, False): "البريد: طلبكم {ref} جاهز للاستلام.",
    (RequestStatus.REJECTED, False): "البريد: رُفض طلبكم {ref}. اسألوا بأي مكتب بريد.",
    (RequestStatus.REJECTED, True): "البريد: رُفض طلبكم {ref}. استردوا المبلغ من أي مكتب بريد.",
}


def ucs2_segments(text: str) -> int:
    """How many SMS segments `text` takes in UCS-2: 70 code units in one, 67 a part after.

    Counted in UTF-16 code units, as the network does (a character outside the basic
    plane takes two).
    """
    units = len(text.encode("utf-16-le")) // 2
    if units <= SMS_LIMIT:
        return 1
    return -(-units // 67)


def status_sms_body(*, status: str, refundable: bool, reference: str) -> str:
    """The citizen's SMS for a request now in `status` (its receipt's payment reference)."""
    key = (status, refundable and status == RequestStatus.REJECTED)
    return _SMS_BODIES[key].format(ref=reference)


def bound_mobile(payment: Payment) -> str | None:
    """The mobile bound to the payment's citizen (verified by a code), or None."""
    citizen = payment.citizen
    if citizen is None or not citizen.mobile or citizen.mobile_verified_at is None:
        return None
    return citizen.mobile


# --- Receiving a change -------------------------------------------------------------


def _reachable(start: str, goal: str) -> bool:
    """Whether a request in `start` can come to be in `goal` (in zero or more moves)."""
    seen, frontier = {start}, [start]
    while frontier:
        for following in NEXT_STATUSES.get(frontier.pop(), frozenset()):
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return goal in seen


@retry_on_conflict
def status_change_receive(
    *,
    agency: Agency,
    payment_reference: str,
    change_id: str,
    status: str,
    reason: str,
    refundable: bool,
    changed_by: str,
    changed_at: datetime,
) -> Received:
    """Store the agency's change of a request once; apply it if it is the newest."""
    if status not in RequestStatus.values:
        raise IllegalTransition(_("Unknown request status: %(status)s.") % {"status": status})
    refundable = bool(refundable) and status == RequestStatus.REJECTED
    try:
        with transaction.atomic():
            return _receive(
                agency=agency,
                payment_reference=payment_reference,
                change_id=change_id,
                status=status,
                reason=reason,
                refundable=refundable,
                changed_by=changed_by,
                changed_at=changed_at,
            )
    except IntegrityError:
        # Two deliveries of one change at once: the other one stored it.
        seen = StatusChange.objects.filter(
            request__payment__reference=payment_reference,
            request__agency=agency,
            change_id=change_id,
        ).first()
        if seen is None:
            raise
        return Received(change=seen, outcome="duplicate")


def _receive(
    *,
    agency: Agency,
    payment_reference: str,
    change_id: str,
    status: str,
    reason: str,
    refundable: bool,
    changed_by: str,
    changed_at: datetime,
) -> Received:
    # Deliveries of one request queue here, one at a time.
    request = (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("payment__citizen", "payment__branch")
        .filter(payment__reference=payment_reference, agency=agency)
        .first()
    )
    if request is None:
        raise UnknownRequest(
            _("No request of this agency is opened by payment %(reference)s.")
            % {"reference": payment_reference}
        )
    seen = StatusChange.objects.filter(request=request, change_id=change_id).first()
    if seen is not None:
        return Received(change=seen, outcome="duplicate")

    # Our own "submitted" is on our clock, not the agency's: any change of the agency's
    # is newer than it.
    newer = request.status == RequestStatus.SUBMITTED or changed_at >= request.updated_at
    if newer and status not in NEXT_STATUSES[request.status]:
        raise IllegalTransition(
            _("A request that is %(now)s cannot become %(next)s.")
            % {
                "now": RequestStatus(request.status).label,
                "next": RequestStatus(status).label,
            }
        )
    if not newer and not _reachable(status, request.status):
        raise IllegalTransition(
            _("A request that is %(now)s cannot have been %(earlier)s before it.")
            % {
                "now": RequestStatus(request.status).label,
                "earlier": RequestStatus(status).label,
            }
        )
    change = StatusChange.objects.create(
        request=request,
        status=status,
        reason=reason[:200],
        refundable=refundable,
        change_id=change_id,
        changed_by=changed_by[:120],
        changed_at=changed_at,
        received_at=timezone.now(),
    )
    audit_log.append(
        stream=audit_log.branch_stream(request.payment.branch),
        action="agencies.request_status",
        actor_username=f"{agency.code}:{changed_by}"[:150],
        object_type="service_request",
        object_id=request.pk,
        branch=request.payment.branch_id,
        data={
            "payment": payment_reference,
            "change_id": change_id,
            "status": status,
            "refundable": refundable,
            "reason": reason[:200],
            "changed_at": changed_at.isoformat(),
            "applied": newer,
        },
    )
    if not newer:
        return Received(change=change, outcome="stored")

    request.status, request.reason, request.refundable = status, reason[:200], refundable
    request.updated_at = changed_at
    request.save(update_fields=["status", "reason", "refundable", "updated_at"])
    mobile = bound_mobile(request.payment)
    if mobile is not None:
        send_sms(
            to=mobile,
            body=status_sms_body(status=status, refundable=refundable, reference=payment_reference),
        )
    if refundable:
        refund_open(payment=request.payment, reason=RefundReason.REJECTED)
    return Received(change=change, outcome="applied")
