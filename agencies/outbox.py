"""Delivering the agencies' outbox: each notification until its agency acknowledges it.

A pass claims what is due by lease: in one short transaction the due rows are locked
(FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers share the queue without
waiting on each other) and their ``next_attempt_at`` is pushed ``lease`` seconds ahead,
then the transaction commits. The agency is called with no lock held and no transaction
open (a slow agency holds no row and no connection's transaction); what it answered is
then written by one UPDATE (a refusal with its signal, in one transaction), and only
if the row is still as this pass claimed it (same status, same lease). A worker that
died mid-call leaves its rows to be claimed again when the lease runs out; the agency
deduplicates by our payment reference, so the second call is harmless, and the guard
records each answer once.

The rules, by what the agency said:

- a payment acknowledged: ``acknowledged`` with the agency's id;
- nothing applied (``AgencyUnavailable``): tried again after an exponential backoff
  with jitter (``BACKOFF_FIRST`` to ``BACKOFF_CAP`` seconds); when the agency's circuit
  is open (``CircuitOpen``, it was not even asked) no attempt is counted and the row
  comes back as the circuit's cool-off ends;
- sent and no answer (``OutcomeUnknown``): ``unknown``. Never sent again blindly: the
  next attempts ask the agency's status query. It knows the payment: acknowledged; it
  has no record (it never applied it): ``pending``, to be sent again;
- refused for good (``AgencyRefused``: the bill was paid or changed, a conflict):
  ``refused``, and ``payment_refused`` is sent in that transaction so the citizen's
  refund opens with it, unless the payment was voided here (its money went back then).

A void is told only once the payment's own notification is resolved: the agency cannot
void what it never recorded. Once the payment was refused there is nothing to void: the
void is closed as refused without a call.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from agencies.adapters import Ack, AgencyAdapter, NotifyPayment, adapter_for
from agencies.errors import (
    AgencyError,
    AgencyRefused,
    AgencyUnavailable,
    CircuitOpen,
    OutcomeUnknown,
)
from agencies.models import Inquiry, Notification, NotificationKind, NotificationStatus
from agencies.services import integration_for
from agencies.signals import notification_changed, payment_refused
from counter.models import FeeComponent, Payment
from float_management.models import Request, RequestKind

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 300.0
# Stop starting calls this long before the lease runs out: a call may take this long.
CALL_MARGIN = 35.0
UNRESOLVED = (NotificationStatus.PENDING, NotificationStatus.UNKNOWN)
RESOLVED = (NotificationStatus.ACKNOWLEDGED, NotificationStatus.REFUSED)
PENDING = NotificationStatus.PENDING
UNKNOWN = NotificationStatus.UNKNOWN
ACKNOWLEDGED = NotificationStatus.ACKNOWLEDGED
REFUSED = NotificationStatus.REFUSED
PRINCIPAL = FeeComponent.Kind.PRINCIPAL


def notifications_deliver(
    *,
    batch: int = 50,
    now: datetime | None = None,
    lease: float = LEASE_SECONDS,
    threads: int = 1,
) -> dict[str, int]:
    """Deliver (or ask about) the notifications due at ``now``; the counts of each outcome.

    ``now`` fixes the pass's clock (tests); by default it is the wall clock at each step.
    With ``threads`` > 1 the claimed notifications are delivered by that many threads
    (each with its own database connection, closed at the end), so one slow agency's
    timeouts do not queue up one behind the other.
    """

    def clock() -> datetime:
        return now if now is not None else timezone.now()

    claimed, lease_until = _claim(batch=batch, now=clock(), lease=lease)
    counts: Counter[str] = Counter(claimed=len(claimed))
    queue = deque(claimed)
    lock = threading.Lock()
    started = time.monotonic()
    budget = max(lease - CALL_MARGIN, lease / 2)

    def drain() -> None:
        adapters: dict[str, AgencyAdapter | None] = {}
        while True:
            with lock:
                if not queue:
                    return
                notification = queue.popleft()
            if time.monotonic() - started > budget:
                outcome = "released" if _release([notification], lease_until, clock()) else "lost"
            else:
                outcome = _attempt(notification, lease_until, adapters, clock)
            with lock:
                counts[outcome] += 1

    if threads <= 1 or len(claimed) <= 1:
        drain()
    else:
        pool = [
            threading.Thread(target=_closing(drain), name=f"outbox-{n}")
            for n in range(min(threads, len(claimed)))
        ]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    return dict(counts)


def _closing(work):
    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    return run


def _attempt(notification, lease_until, adapters, clock) -> str:
    try:
        return _deliver_one(notification, lease_until, adapters, clock)
    except Exception:
        # Our own failure (a receiver of payment_refused, the database): the row keeps
        # its lease and is tried again when it runs out.
        logger.exception("notification %s: delivery failed", notification.pk)
        return "failed"


def _claim(*, batch: int, now: datetime, lease: float) -> tuple[list[Notification], datetime]:
    """Lease up to ``batch`` due notifications to this pass, in one short transaction."""
    payment_unresolved = Notification.objects.filter(
        payment=OuterRef("payment"), kind=NotificationKind.PAYMENT, status__in=UNRESOLVED
    )
    due = (
        Notification.objects.filter(status__in=UNRESOLVED, next_attempt_at__lte=now)
        .filter(Q(kind=NotificationKind.PAYMENT) | ~Exists(payment_unresolved))
        .order_by("next_attempt_at", "pk")
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    lease_until = now + timedelta(seconds=lease)
    with transaction.atomic():
        ids = list(due.values_list("pk", flat=True)[:batch])
        if ids:
            Notification.objects.filter(pk__in=ids).update(next_attempt_at=lease_until)
    claimed = list(
        Notification.objects.filter(pk__in=ids)
        .select_related("payment__service", "payment__inquiry", "agency")
        .prefetch_related("payment__lines__component")
        .order_by("created_at", "pk")
    )
    return claimed, lease_until


def _release(rest: list[Notification], lease_until: datetime, now: datetime) -> int:
    """Give back what this pass claimed and had no time left to deliver."""
    return Notification.objects.filter(
        pk__in=[n.pk for n in rest], status__in=UNRESOLVED, next_attempt_at=lease_until
    ).update(next_attempt_at=now)


def _deliver_one(
    notification: Notification,
    lease_until: datetime,
    adapters: dict[str, AgencyAdapter | None],
    clock,
) -> str:
    code = notification.agency.code
    if code not in adapters:
        adapters[code] = adapter_for(code)
    adapter = adapters[code]
    claimed = _Claimed(notification, lease_until, clock)
    if notification.kind == NotificationKind.VOID and _payment_refused(notification):
        return claimed.refused("the agency refused the payment: nothing to void", signal=False)
    try:
        if adapter is None:
            raise AgencyUnavailable(agency_code=code, detail="no system configured")
        if notification.status == UNKNOWN:
            return _ask(claimed, adapter)
        return _send(claimed, adapter)
    except CircuitOpen as error:
        return claimed.circuit_open(error)
    except AgencyUnavailable as error:
        return claimed.later(error)


def _send(claimed: _Claimed, adapter: AgencyAdapter) -> str:
    notification = claimed.notification
    payment = notification.payment
    try:
        if notification.kind == NotificationKind.VOID:
            adapter.notify_void(payment.reference, _void_reason(payment))
            return claimed.acknowledged(_agency_txn_id(payment))
        ack = adapter.notify_payment(notify_payment_of(payment))
    except OutcomeUnknown as error:
        return claimed.unknown(error)
    except AgencyRefused as error:
        return claimed.refused(f"{error.code}: {error.detail}", signal=True, code=error.code)
    return claimed.acknowledged(ack.agency_txn_id)


def _ask(claimed: _Claimed, adapter: AgencyAdapter) -> str:
    """Resolve an unknown outcome by the agency's status query, never by sending again."""
    notification = claimed.notification
    try:
        status: Ack | None = adapter.payment_status(notification.payment.reference)
    except (AgencyRefused, OutcomeUnknown) as error:
        # No answer we can act on: ask again later, still unknown.
        return claimed.later(error)
    if notification.kind == NotificationKind.PAYMENT:
        if status is None:
            return claimed.not_applied()
        return claimed.acknowledged(status.agency_txn_id)
    if status is not None and status.status == "voided":
        return claimed.acknowledged(status.agency_txn_id)
    return claimed.not_applied()


class _Claimed:
    """A notification this pass holds by lease, and the ways its attempt can end."""

    def __init__(self, notification: Notification, lease_until: datetime, clock):
        self.notification = notification
        self.lease_until = lease_until
        self.clock = clock

    def acknowledged(self, agency_txn_id: str) -> str:
        return self._record(
            "acknowledged",
            status=ACKNOWLEDGED,
            acknowledged_at=self.clock(),
            agency_txn_id=agency_txn_id[:64],
            last_error="",
            attempts=self.notification.attempts + 1,
        )

    def later(self, error: AgencyError) -> str:
        attempts = self.notification.attempts + 1
        return self._record(
            "retry",
            attempts=attempts,
            next_attempt_at=self.clock() + timedelta(seconds=backoff(attempts)),
            last_error=str(error.detail or error)[:200],
        )

    def circuit_open(self, error: CircuitOpen) -> str:
        """Not even asked: no attempt counted, tried again as the circuit's cool-off ends."""
        delay = max(error.seconds, 1) * random.uniform(1.0, 1.5)  # noqa: S311
        return self._record(
            "circuit_open",
            next_attempt_at=self.clock() + timedelta(seconds=delay),
            last_error=str(error.detail)[:200],
        )

    def unknown(self, error: OutcomeUnknown) -> str:
        attempts = self.notification.attempts + 1
        return self._record(
            "unknown",
            status=UNKNOWN,
            attempts=attempts,
            next_attempt_at=self.clock() + timedelta(seconds=backoff(attempts)),
            last_error=str(error.detail or error)[:200],
        )

    def not_applied(self) -> str:
        return self._record(
            "not_applied",
            status=PENDING,
            next_attempt_at=self.clock(),
            last_error="the agency has no record of it: to be sent again",
        )

    def refused(self, why: str, *, signal: bool, code: str = "") -> str:
        return self._record(
            "refused",
            status=REFUSED,
            attempts=self.notification.attempts + (1 if signal else 0),
            last_error=why[:200],
            refusal_code=code if signal else None,
        )

    def _record(self, outcome: str, *, refusal_code: str | None = None, **fields) -> str:
        """Write the outcome, once: only if the row is still as this pass claimed it.

        One guarded UPDATE (a statement is its own transaction); a refusal also sends
        ``payment_refused``, whose receivers write in the same transaction.
        """
        claimed = self.notification
        if "next_attempt_at" not in fields:
            # Resolved rows leave the queue; the lease's time would only mislead.
            fields["next_attempt_at"] = self.clock()
        ours = Notification.objects.filter(
            pk=claimed.pk, status=claimed.status, next_attempt_at=self.lease_until
        )
        if refusal_code is None:
            if not ours.update(**fields):
                return self._lost(outcome)
            _boards_told(claimed)
            return outcome
        with transaction.atomic():
            if not ours.update(**fields):
                return self._lost(outcome)
            for name, value in fields.items():
                setattr(claimed, name, value)
            if not Payment.objects.filter(pk=claimed.payment_id, voided_at__isnull=False).exists():
                payment_refused.send(sender=Notification, notification=claimed, code=refusal_code)
            _boards_told(claimed)
        return outcome

    def _lost(self, outcome: str) -> str:
        pk = self.notification.pk
        logger.warning("notification %s: lease lost, %s not recorded", pk, outcome)
        return "lease_lost"


def _boards_told(notification: Notification) -> None:
    """The agency's figures on the boards moved: pushed once the outcome is committed."""
    transaction.on_commit(
        lambda: notification_changed.send_robust(sender=Notification, notification=notification)
    )


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: doubling from BACKOFF_FIRST, capped, jittered down.

    The jitter (50-100 %) spreads the retries of a burst that failed together, so an
    agency coming back is not met by all of them in the same second.
    """
    ceiling = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 20))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - spreading, not a secret


def notify_payment_of(payment: Payment) -> NotifyPayment:
    """What the agency is told of a payment.

    The agency's reference is the integration's reference field; the bills are those
    of the agency's answer the payment paid (an inquiry), else the payment's other
    reference fields (a bill number typed from the paper bill), else none (a fee).
    The amount is the bill's (the principal) or, for a fixed fee, what the service's
    agency is credited: never the post office's commission.
    """
    integration = integration_for(payment.service)
    field = integration.reference_field if integration is not None else ""
    references = payment.references or {}
    reference = references.get(field) if field else next(iter(references.values()), "")
    try:
        inquiry: Inquiry | None = payment.inquiry
    except Inquiry.DoesNotExist:
        inquiry = None
    if inquiry is not None:
        bill_ids = inquiry.bill_ids
    else:
        # A fee for a service (a request, a licence) settles no bill: none is named.
        bill_ids = tuple(value for key, value in references.items() if key != field and value)
    lines = list(payment.lines.all())
    principal = [line.amount for line in lines if line.component.kind == PRINCIPAL]
    agency_id = payment.service.agency_id
    agency_owed = [line.amount for line in lines if line.agency_id == agency_id]
    amount = sum(principal) if principal else sum(agency_owed)
    return NotifyPayment(
        payment_reference=payment.reference,
        service_code=payment.service.code,
        reference=reference or payment.reference,
        bill_ids=tuple(bill_ids),
        amount=amount or payment.total,
        paid_at=payment.created_at,
    )


def _payment_refused(void: Notification) -> bool:
    return Notification.objects.filter(
        payment_id=void.payment_id, kind=NotificationKind.PAYMENT, status=REFUSED
    ).exists()


def _agency_txn_id(payment: Payment) -> str:
    return (
        Notification.objects.filter(payment=payment, kind=NotificationKind.PAYMENT)
        .values_list("agency_txn_id", flat=True)
        .first()
        or ""
    )


def _void_reason(payment: Payment) -> str:
    reason = (
        Request.objects.filter(kind=RequestKind.VOID, subject_id=payment.pk)
        .order_by("-pk")
        .values_list("reason", flat=True)
        .first()
    )
    return reason or "voided at the counter"
