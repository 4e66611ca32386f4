from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from counter.models import Payment, TopUp


class Receipt(models.Model):
    """A receipt of a payment, a top-up or a void slip, and the count of its prints.

    Made by its first print (`receipts.services.receipt_print`). The first
    print is the original; every later print is a counted copy.
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


class ReceiptPrint(models.Model):
    """One print of a receipt: number 1 is the original, number n > 1 says COPY n."""

    class Layout(models.TextChoices):
        ROLL = "roll", _("80 mm roll")
        A4 = "a4", _("A4")

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="prints")
    number = models.PositiveIntegerField(_("print number"))
    layout = models.CharField(_("layout"), max_length=4, choices=Layout.choices)
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    printed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("receipt print")
        verbose_name_plural = _("receipt prints")
        constraints = [
            models.UniqueConstraint(fields=["receipt", "number"], name="one_print_per_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="print_number_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id} #{self.number}"

    @property
    def is_original(self) -> bool:
        return self.number == 1

    @property
    def copy_number(self) -> int:
        """0 for the original, else the number the receipt shows after COPY."""
        return 0 if self.is_original else self.number
