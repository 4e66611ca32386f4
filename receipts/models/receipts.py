from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from counter.models import Payment, TopUp


class Receipt(models.Model):
    """The print record of a payment, a top-up or a void slip.

    The first print is the original; every later print is a counted copy.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment receipt")
        TOP_UP = "top_up", _("Top-up slip")
        VOID = "void", _("Void slip")

    reference = models.CharField(_("receipt number"), max_length=14, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="receipts"
    )
    top_up = models.OneToOneField(
        TopUp, on_delete=models.PROTECT, null=True, blank=True, related_name="receipt"
    )
    created_at = models.DateTimeField(default=timezone.now)
    original_printed_at = models.DateTimeField(null=True, blank=True)
    reprints = models.PositiveIntegerField(_("reprints"), default=0)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="payment", payment__isnull=False, top_up__isnull=True)
                | Q(kind="void", payment__isnull=False, top_up__isnull=True)
                | Q(kind="top_up", payment__isnull=True, top_up__isnull=False),
                name="receipt_subject_fits_kind",
            ),
            models.UniqueConstraint(
                fields=["payment", "kind"],
                condition=Q(payment__isnull=False),
                name="one_receipt_of_each_kind_per_payment",
            ),
        ]

    def __str__(self) -> str:
        return self.reference
