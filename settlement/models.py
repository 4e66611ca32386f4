"""Settlement: what each agency is paid for a business day, two business days later."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from counter.models import Agency, Payment
from float_management.models import Transfer


class SettlementBatch(models.Model):
    """One agency's collections of one business day, paid on the value date."""

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("agency")
    )
    business_day = models.DateField(_("business day"))
    value_date = models.DateField(_("value date"))
    total = models.BigIntegerField(_("total (piastres)"))
    items_count = models.PositiveIntegerField(_("payments"))
    transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "receipts_settlementbatch"  # the table it had in receipts, rows and all
        ordering = ["-business_day", "agency__code"]
        verbose_name = _("settlement batch")
        verbose_name_plural = _("settlement batches")
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "business_day"], name="one_batch_per_agency_and_day"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="batch_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.agency.code} {self.business_day}"


class SettlementItem(models.Model):
    """An agency's share of one payment, in exactly one batch."""

    batch = models.ForeignKey(SettlementBatch, on_delete=models.PROTECT, related_name="items")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()

    class Meta:
        db_table = "receipts_settlementitem"
        verbose_name = _("settlement item")
        verbose_name_plural = _("settlement items")
        ordering = ["batch", "payment__created_at", "pk"]
        constraints = [
            # A payment's share for an agency can be settled once, never twice.
            models.UniqueConstraint(fields=["payment", "agency"], name="settled_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="item_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}: {self.payment_id} {self.amount}"
