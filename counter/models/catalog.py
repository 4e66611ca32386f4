"""Government agencies and the services the counters sell for them.

Fees live in dated schedules: a fee change is a new schedule from a date,
so a payment always points at the schedule it was charged under. Likewise a
service's code and agency, and an agency's code, stop changing once a payment
used them: a change is a new service or agency.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from agents.models import BilingualName

# What was paid keeps the code and agency it was paid under: receipts, settlement
# files and the ledger's account keys name them. A change is a new service or agency.
SERVICE_FIXED = _(
    "This service has been paid for, so its code and agency can no longer change. "
    "To sell it under another code or for another agency, create a new service "
    "and make this one inactive."
)
AGENCY_CODE_FIXED = _(
    "Payments have been credited to this agency, so its code can no longer change. "
    "For a new code, add a new agency with new services of its own, and make this one "
    "inactive."
)


def _changed(instance: models.Model, fields: list[str]) -> list[str]:
    """Which of `fields` differ from the saved row (none for a new row)."""
    if instance.pk is None:
        return []
    saved = type(instance)._default_manager.filter(pk=instance.pk).values(*fields).first()
    if saved is None:
        return []
    return [name for name in fields if saved[name] != getattr(instance, name)]


class Agency(BilingualName):
    code = models.CharField(_("code"), max_length=20, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("government agency")
        verbose_name_plural = _("government agencies")

    @property
    def has_been_paid(self) -> bool:
        """Payments credited this agency: its code names its ledger accounts and settlements."""
        return self.pk is not None and self.payment_lines.exists()

    def clean(self) -> None:
        super().clean()
        if _changed(self, ["code"]) and self.has_been_paid:
            raise ValidationError({"code": AGENCY_CODE_FIXED})


class Service(BilingualName):
    class AmountKind(models.TextChoices):
        FIXED = "fixed", _("Fixed fees")
        VARIABLE = "variable", _("Variable amount (e.g. a bill) plus fixed fees")

    code = models.CharField(_("code"), max_length=20, unique=True)
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="services", verbose_name=_("agency")
    )
    budget_item = models.CharField(_("budget item code"), max_length=30)
    amount_kind = models.CharField(
        _("amount"), max_length=8, choices=AmountKind.choices, default=AmountKind.FIXED
    )
    # For variable services: the bounds of the amount the citizen pays in (piastres).
    min_amount = models.BigIntegerField(_("minimum amount (piastres)"), null=True, blank=True)
    max_amount = models.BigIntegerField(_("maximum amount (piastres)"), null=True, blank=True)
    requires_citizen = models.BooleanField(_("needs a registered citizen"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_kind="fixed", min_amount__isnull=True, max_amount__isnull=True)
                | Q(amount_kind="variable", min_amount__gt=0, max_amount__gte=F("min_amount")),
                name="service_amount_bounds",
                violation_error_message=_(
                    "Variable services need a minimum above zero and a maximum not below it; "
                    "fixed services need neither."
                ),
            )
        ]

    @property
    def has_been_paid(self) -> bool:
        return self.pk is not None and self.payments.exists()

    def clean(self) -> None:
        super().clean()
        changed = _changed(self, ["code", "agency_id"])
        if changed and self.has_been_paid:
            raise ValidationError(
                {("agency" if name == "agency_id" else name): SERVICE_FIXED for name in changed}
            )


class FeeSchedule(models.Model):
    """The fees of a service from a date on (until the next schedule starts)."""

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="schedules", verbose_name=_("service")
    )
    effective_from = models.DateField(_("effective from"))

    class Meta:
        ordering = ["service", "-effective_from"]
        verbose_name = _("fee schedule")
        verbose_name_plural = _("fee schedules")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "effective_from"], name="one_schedule_per_service_and_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service.code} ≥ {self.effective_from}"


class FeeComponent(BilingualName):
    """One part of what the citizen pays, credited to its own ledger account."""

    class Kind(models.TextChoices):
        PRINCIPAL = "principal", _("Amount due (the bill itself)")
        AGENCY_FEE = "agency_fee", _("Agency fee")
        COMMISSION = "commission", _("Post office commission")
        STAMP_DUTY = "stamp_duty", _("Stamp duty")
        OTHER = "other", _("Other fee")

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.PROTECT, related_name="components")
    code = models.CharField(_("code"), max_length=20)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # None for the principal of a variable service: the amount typed at the counter.
    amount = models.BigIntegerField(_("amount (piastres)"), null=True, blank=True)
    # Who is paid this part; commission is the post office's own revenue.
    agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("paid to agency (default: the service's)"),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["schedule", "position", "pk"]
        verbose_name = _("fee component")
        verbose_name_plural = _("fee components")
        constraints = [
            models.UniqueConstraint(fields=["schedule", "code"], name="component_code_unique"),
            models.CheckConstraint(
                condition=Q(kind="principal", amount__isnull=True)
                | (~Q(kind="principal") & Q(amount__gt=0)),
                name="component_amount_fits_kind",
                violation_error_message=_(
                    "The amount due is typed at the counter (leave it empty); every fee needs "
                    "an amount above zero."
                ),
            ),
        ]


class ReferenceField(models.Model):
    """Something a service needs typed at the counter: a bill number, a licence number."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="reference_fields")
    code = models.SlugField(_("code"), max_length=30)
    label_ar = models.CharField(_("Arabic label"), max_length=120)
    label_en = models.CharField(_("English label"), max_length=120)
    pattern = models.CharField(
        _("pattern (regular expression)"), max_length=200, default=r"^[0-9]{1,20}$"
    )
    hint_ar = models.CharField(_("Arabic hint"), max_length=200, blank=True)
    hint_en = models.CharField(_("English hint"), max_length=200, blank=True)
    required = models.BooleanField(_("required"), default=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["service", "position", "pk"]
        verbose_name = _("reference field")
        verbose_name_plural = _("reference fields")
        constraints = [
            models.UniqueConstraint(fields=["service", "code"], name="reference_field_unique")
        ]

    def __str__(self) -> str:
        return f"{self.service.code}.{self.code}"

    @property
    def label(self) -> str:
        return self.label_en if (get_language() or "ar").startswith("en") else self.label_ar

    @property
    def hint(self) -> str:
        return self.hint_en if (get_language() or "ar").startswith("en") else self.hint_ar
