"""What the app keeps of its conversations with the agencies' own systems.

- `Integration`: a service whose agency has a system of its own. Every payment of it
  (and every void) is told to that system; it may be "inquire first" (the amount is
  what the agency says is due) and may open a request the agency then processes.
- `Inquiry`: what the agency answered to one reference at one counter, and the
  payment that paid it (each inquiry pays at most one payment).
- `Notification`: the outbox. Written in the payment's (or void's) own transaction,
  delivered by the worker (`manage.py agency_worker`) until the agency acknowledges.
- `ServiceRequest` and `StatusChange`: a paid request's life, pushed by the agency.
- `AgencyRefund`: money the agency gave back (a refundable rejection, a payment its
  system refused), collected by the citizen at any branch with a supervisor's approval.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.models import Branch
from counter.models import Agency, Payment, Service
from float_management.models import Transfer


class Integration(models.Model):
    """A service told to its agency's own system (settings.AGENCY_SYSTEMS names the system)."""

    service = models.OneToOneField(
        Service, on_delete=models.PROTECT, related_name="integration", verbose_name=_("service")
    )
    inquire_first = models.BooleanField(
        _("ask the agency what is due first"),
        default=False,
        help_text=_("The agent types the reference; the amount is what the agency says is due."),
    )
    opens_request = models.BooleanField(
        _("opens a request the agency processes"),
        default=False,
        help_text=_("The payment opens a request whose status the agency pushes."),
    )
    # The reference field the agency knows the citizen by (an account, a contract).
    reference_field = models.SlugField(_("reference field's code"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("agency integration")
        verbose_name_plural = _("agency integrations")

    def __str__(self) -> str:
        return self.service.code


class Inquiry(models.Model):
    """One answer of an agency's system: what is due under a reference, shown to an agent."""

    token = models.CharField(max_length=32, unique=True)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(_("reference"), max_length=60)
    name_masked = models.CharField(_("name on the account"), max_length=120, blank=True)
    # [{"bill_id", "amount", "due_date", "description"}], amounts in piastres.
    bills = models.JSONField(default=list)
    total = models.BigIntegerField(_("total due (piastres)"))
    minimum = models.BigIntegerField(_("minimum (piastres)"))
    partial_allowed = models.BooleanField(default=False)
    advance_allowed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    elapsed_ms = models.PositiveIntegerField(_("the agency's answer took (ms)"), default=0)
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="inquiry"
    )

    class Meta:
        verbose_name = _("bill inquiry")
        verbose_name_plural = _("bill inquiries")
        indexes = [models.Index(fields=["created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0, minimum__gte=0), name="inquiry_amounts_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.reference}"

    @property
    def bill_ids(self) -> tuple[str, ...]:
        return tuple(bill["bill_id"] for bill in self.bills)


class NotificationKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    VOID = "void", _("Void")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be delivered")
    UNKNOWN = "unknown", _("Outcome unknown: asking the agency")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged by the agency")
    REFUSED = "refused", _("Refused by the agency")


class Notification(models.Model):
    """One message to an agency's system, delivered until it is acknowledged.

    Written in the same transaction as the payment or void it reports, so a
    payment is never without its notification nor a notification without its
    payment. Pending ones are claimed by the worker with FOR UPDATE SKIP LOCKED.
    An "unknown" one (the agency may have applied it, we could not hear) is never
    sent again blindly: the worker asks the agency's status query until it knows.
    """

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="agency_notifications"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=NotificationKind.choices)
    status = models.CharField(
        max_length=12, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    agency_txn_id = models.CharField(_("agency's reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("agency notification")
        verbose_name_plural = _("agency notifications")
        ordering = ["created_at", "pk"]
        indexes = [
            # The worker's queue: only the unresolved, by when they are due.
            models.Index(
                fields=["next_attempt_at"],
                name="agency_notification_due",
                condition=Q(status__in=["pending", "unknown"]),
            ),
            models.Index(fields=["agency", "status", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind"], name="one_notification_per_kind"),
            models.CheckConstraint(
                condition=Q(status="acknowledged", acknowledged_at__isnull=False)
                | (~Q(status="acknowledged") & Q(acknowledged_at__isnull=True)),
                name="notification_acknowledged_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.payment_id}"

    @property
    def is_resolved(self) -> bool:
        return self.status in (NotificationStatus.ACKNOWLEDGED, NotificationStatus.REFUSED)


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    IN_REVIEW = "in_review", _("In review")
    READY = "ready", _("Ready for pickup")
    REJECTED = "rejected", _("Rejected")


# Where a status may go next (a rejection or pickup is final).
NEXT_STATUSES: dict[str, frozenset[str]] = {
    RequestStatus.SUBMITTED: frozenset({"in_review", "ready", "rejected"}),
    RequestStatus.IN_REVIEW: frozenset({"ready", "rejected"}),
    RequestStatus.READY: frozenset(),
    RequestStatus.REJECTED: frozenset(),
}


class ServiceRequest(models.Model):
    """A request the agency processes after its payment (a licence renewal, a plot)."""

    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, related_name="service_request"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    refundable = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")
        indexes = [models.Index(fields=["agency", "status"])]

    def __str__(self) -> str:
        return f"{self.payment_id}:{self.status}"


class StatusChange(models.Model):
    """One change of a request's status: who made it, when, and the agency's id for it."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="changes")
    status = models.CharField(max_length=10, choices=RequestStatus.choices)
    reason = models.CharField(max_length=200, blank=True)
    refundable = models.BooleanField(default=False)
    # The agency's own id of this change: the same change delivered twice is stored once.
    change_id = models.CharField(max_length=64)
    changed_by = models.CharField(_("changed by"), max_length=120)  # the agency's officer
    changed_at = models.DateTimeField(_("changed at"))  # the agency's time
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("request status change")
        verbose_name_plural = _("request status changes")
        ordering = ["request", "changed_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "change_id"], name="status_change_once")
        ]

    def __str__(self) -> str:
        return f"{self.request_id}:{self.status}"


class WebhookSeen(models.Model):
    """A status webhook's signature, once: the same signed request again is a replay."""

    signature = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.signature[:12]


class RefundStatus(models.TextChoices):
    DUE = "due", _("Waiting for the citizen")
    REQUESTED = "requested", _("Waiting for a supervisor")
    PAID = "paid", _("Paid to the citizen")


class RefundReason(models.TextChoices):
    REJECTED = "rejected", _("The agency rejected the request")
    REFUSED = "refused", _("The agency's system refused the payment")


class AgencyRefund(models.Model):
    """Money the agency gave back, held for the citizen until paid out at a counter.

    Made when the agency rejects a refundable request (or its system refuses the
    payment for good): the payment's transfer is reversed into the refund-due
    account. The citizen collects it at any branch: an agent asks, a supervisor of
    that branch approves (never the same person), the till pays it out.
    """

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="agency_refund")
    amount = models.BigIntegerField(_("amount (piastres)"))
    reason = models.CharField(max_length=10, choices=RefundReason.choices)
    status = models.CharField(max_length=10, choices=RefundStatus.choices, default="due")
    created_at = models.DateTimeField(default=timezone.now)
    held_transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    paid_transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    paid_branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("agency refund")
        verbose_name_plural = _("agency refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="agency_refund_positive"),
            models.CheckConstraint(
                condition=Q(status="paid", paid_transfer__isnull=False, paid_at__isnull=False)
                | (~Q(status="paid") & Q(paid_transfer__isnull=True)),
                name="agency_refund_paid_has_transfer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id}:{self.status}"
