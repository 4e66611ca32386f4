"""A wallet payment waiting for its money, and every transaction a provider told us of."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.models import Branch
from counter.models import Citizen, Payment, Service
from float_management.models import TillSession, Transfer


class IntentStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the citizen to pay")
    PAID = "paid", _("Paid")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class WalletIntent(models.Model):
    """The QR shown at a counter: what the citizen is asked to pay, until paid or expired.

    It keeps everything the payment needs, because the payment is posted when the
    money arrives (the provider's callback or a status query), not by the agent's
    request. Its reference is the QR's payment reference and the payment's.
    """

    reference = models.CharField(_("reference"), max_length=14, unique=True)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(TillSession, on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    citizen = models.ForeignKey(
        Citizen, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount = models.BigIntegerField(_("amount typed (piastres)"), null=True, blank=True)
    references = models.JSONField(default=dict, blank=True)
    total = models.BigIntegerField(_("total (piastres)"))
    payload = models.CharField(_("QR payload"), max_length=512)
    status = models.CharField(max_length=10, choices=IntentStatus.choices, default="pending")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    # When the provider was last asked about it (the status query, for a late callback).
    queried_at = models.DateTimeField(null=True, blank=True)
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="wallet_intent"
    )

    class Meta:
        verbose_name = _("wallet QR")
        verbose_name_plural = _("wallet QRs")
        indexes = [
            models.Index(
                fields=["created_at"], name="wallet_intent_pending", condition=Q(status="pending")
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="wallet_intent_total_positive"),
            models.CheckConstraint(
                condition=Q(status="paid", payment__isnull=False)
                | (~Q(status="paid") & Q(payment__isnull=True)),
                name="wallet_intent_paid_has_payment",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class ReceiptStatus(models.TextChoices):
    APPLIED = "applied", _("Paid into its payment")
    REFUND_DUE = "refund_due", _("To refund")
    REFUNDING = "refunding", _("Refund sent to the provider")
    REFUNDED = "refunded", _("Refunded")


class RefundReason(models.TextChoices):
    EXPIRED = "expired", _("Paid after the QR expired")
    TWICE = "twice", _("Paid a second time")
    AMOUNT = "amount", _("Paid a different amount")
    UNKNOWN = "unknown", _("No QR of ours has this reference")
    REFUSED = "refused", _("The payment could not be posted")
    VOIDED = "voided", _("Its payment was voided")


class WalletTransaction(models.Model):
    """Money a wallet provider says it took, once per provider transaction id.

    Either it paid its QR's payment (applied), or it is owed back to the citizen
    (a refund queue a supervisor works): never lost, never posted twice.
    """

    txn_id = models.CharField(_("provider's transaction"), max_length=64, unique=True)
    reference = models.CharField(_("QR reference"), max_length=64)
    amount = models.BigIntegerField(_("amount (piastres)"))
    paid_at = models.DateTimeField(_("paid at"))
    wallet = models.CharField(_("wallet"), max_length=32, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=10)  # "callback" or "status": how we learnt of it
    intent = models.ForeignKey(
        WalletIntent, on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="wallet_transaction"
    )
    status = models.CharField(max_length=12, choices=ReceiptStatus.choices)
    reason = models.CharField(max_length=10, choices=RefundReason.choices, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    # The ledger: money owed back is held in a refund-due account from arrival (or the
    # void) until the provider says it refunded.
    held_transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refund_id = models.CharField(max_length=40, blank=True)
    refund_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refund_transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("wallet transaction")
        verbose_name_plural = _("wallet transactions")
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["reference"]),
            models.Index(
                fields=["received_at"],
                name="wallet_txn_to_refund",
                condition=~Q(status="applied"),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_txn_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="applied", payment__isnull=False, reason="")
                | (~Q(status="applied") & ~Q(reason="")),
                name="wallet_txn_applied_or_why_not",
            ),
        ]

    def __str__(self) -> str:
        return self.txn_id


class CallbackSeen(models.Model):
    """A callback's signature, once: the same signed request again is a replay, refused."""

    signature = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.signature[:12]
