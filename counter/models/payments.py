"""Payments, their fee lines, prepaid service cards and their top-ups."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agents.models import Branch
from core.errors import InvalidState
from counter.errors import CardUnusable
from counter.models.catalog import Agency, FeeComponent, FeeSchedule, Service
from counter.models.citizens import Citizen
from float_management.models import Account, TillSession, Transfer


class PrepaidCard(models.Model):
    """A service card: its balance is a ledger account that can never go below zero."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        BLOCKED = "blocked", _("Blocked (lost)")

    number = models.CharField(_("card number"), max_length=16, unique=True)
    citizen = models.ForeignKey(
        Citizen, on_delete=models.PROTECT, related_name="cards", verbose_name=_("citizen")
    )
    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="card")
    pin_hash = models.CharField(max_length=128)
    failed_pin_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    # Where the wrong PINs were typed: only a supervisor of that post office unlocks it.
    locked_branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE
    )
    replaced_by = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaces"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    issued_branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("prepaid card")
        verbose_name_plural = _("prepaid cards")
        constraints = [
            models.CheckConstraint(
                condition=Q(number__regex=r"^[0-9]{16}$"), name="card_number_sixteen_digits"
            )
        ]

    def __str__(self) -> str:
        return self.masked_number

    @property
    def masked_number(self) -> str:
        return f"•••• {self.number[-4:]}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    # The card's own state. The caller holds the row's lock; each saves only what it changes.

    def pin_accepted(self, *, new_pin_hash: str | None = None) -> None:
        """A right PIN: the wrong tries start again from zero (and a stale hash is redone)."""
        fields = []
        if self.failed_pin_attempts:
            self.failed_pin_attempts = 0
            fields.append("failed_pin_attempts")
        if new_pin_hash is not None:
            self.pin_hash = new_pin_hash
            fields.append("pin_hash")
        if fields:
            self.save(update_fields=fields)

    def pin_refused(self, *, tries: int, branch_id: int | None) -> int:
        """A wrong PIN, counted; the card locks at `branch_id` on the `tries`-th. Tries left."""
        self.failed_pin_attempts += 1
        fields = ["failed_pin_attempts"]
        if self.failed_pin_attempts >= tries:
            self.locked_at = timezone.now()
            self.locked_branch_id = branch_id
            fields += ["locked_at", "locked_branch"]
        self.save(update_fields=fields)
        return tries - self.failed_pin_attempts

    def unlock(self) -> None:
        """Lifted by a supervisor: the wrong tries start again from zero."""
        if not self.is_locked:
            raise InvalidState(gettext("This card is not locked."))
        self.locked_at = None
        self.locked_branch = None
        self.failed_pin_attempts = 0
        self.save(update_fields=["locked_at", "locked_branch", "failed_pin_attempts"])

    def block(self, *, replaced_by: PrepaidCard) -> None:
        """Lost: blocked for good, and `replaced_by` is the card in use in its place."""
        if self.status != self.Status.ACTIVE:
            raise CardUnusable(gettext("This card is blocked."))
        self.status = self.Status.BLOCKED
        self.replaced_by = replaced_by
        self.save(update_fields=["status", "replaced_by"])


def method_choices() -> list[tuple[str, str]]:
    """The registered payment methods (counter.methods), read when asked: never frozen here."""
    from counter import methods  # the methods use the models: imported once both exist

    return methods.choices()


class Payment(models.Model):
    """A government service paid at a counter: one ledger transfer, one receipt."""

    class Method(models.TextChoices):
        """The keys of the two methods the payment table has columns for.

        The methods themselves (and any other) are in the registry,
        counter.methods; tests/counter/test_methods.py checks these are there.
        """

        CASH = "cash", _("Cash")
        CARD = "card", _("Prepaid card")

    reference = models.CharField(_("reference"), max_length=14, unique=True)
    session = models.ForeignKey(TillSession, on_delete=models.PROTECT, related_name="payments")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="payments")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    citizen = models.ForeignKey(
        Citizen, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="payments")
    schedule = models.ForeignKey(FeeSchedule, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("method"), max_length=16, choices=method_choices)
    card = models.ForeignKey(
        PrepaidCard, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    total = models.BigIntegerField(_("total (piastres)"))
    tendered = models.BigIntegerField(_("tendered (piastres)"), null=True, blank=True)
    change = models.BigIntegerField(_("change (piastres)"), null=True, blank=True)
    card_balance_after = models.BigIntegerField(null=True, blank=True)
    # What the outside system that took the money calls it: a wallet provider's transaction
    # id, a card terminal's approval code. Its method fills it (counter.methods).
    # Defaults in the database too: bulk loads (the national seeder's COPY) name no column
    # of a method they do not use.
    external_reference = models.CharField(
        _("provider's reference"), max_length=64, blank=True, default="", db_default=""
    )
    card_last4 = models.CharField(
        _("card's last four digits"), max_length=4, blank=True, default="", db_default=""
    )
    references = models.JSONField(_("reference fields"), default=dict, blank=True)
    transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="payment")
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    void_transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="voided_payment"
    )
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [
            # The boards and the daily reports count and sum a day's payments of a branch, a
            # governorate or the whole nation (600,000 a day at national scale), and the nation
            # board counts the last hour's by minute. Every column they read is in these keys,
            # so PostgreSQL answers from the index alone. The branch one also keeps a
            # governorate's board on a per-branch nested loop rather than a scan of the whole
            # nation's day. (Keys rather than INCLUDE: SQLite has no INCLUDE, and suffix
            # truncation keeps the inner pages small either way.)
            models.Index(
                fields=["branch", "created_at", "total", "void_transfer", "id"],
                name="payment_branch_time_cover",
            ),
            models.Index(
                fields=[
                    "created_at",
                    "branch",
                    "service",
                    "method",
                    "total",
                    "void_transfer",
                    "id",
                ],
                name="payment_time_cover",
            ),
            models.Index(fields=["session", "created_at"]),
            models.Index(fields=["service", "created_at"]),
            # A board subtracts the payments voided since its snapshot: a handful, found here.
            models.Index(
                fields=["voided_at"], name="payment_voided_at", condition=Q(voided_at__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="payment_total_positive"),
            models.CheckConstraint(
                condition=(
                    Q(
                        method="cash",
                        card__isnull=True,
                        tendered__gte=models.F("total"),
                        change=models.F("tendered") - models.F("total"),
                    )
                    | Q(
                        method="card",
                        card__isnull=False,
                        tendered__isnull=True,
                        change__isnull=True,
                    )
                    # Any other method (counter.methods) fills none of cash's or card's
                    # columns: one that needs columns of its own brings them, and its rule.
                    | (
                        ~Q(method__in=["cash", "card"])
                        & Q(card__isnull=True, tendered__isnull=True, change__isnull=True)
                    )
                ),
                name="payment_tender_fits_method",
            ),
            # A provider's transaction is paid into one payment, never two (a duplicated or
            # replayed callback, a status query racing it).
            models.UniqueConstraint(
                fields=["method", "external_reference"],
                condition=~Q(external_reference=""),
                name="payment_one_per_provider_reference",
            ),
            # Never a card's full number: the last four digits, and only those.
            models.CheckConstraint(
                condition=Q(card_last4="") | Q(card_last4__regex=r"^[0-9]{4}$"),
                name="payment_card_last4_four_digits",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_voided(self) -> bool:
        return self.void_transfer_id is not None

    def void(self, *, reversal: Transfer) -> None:
        """Voided by `reversal`, the transfer that reverses this payment's (locked row)."""
        if self.is_voided:
            raise InvalidState(gettext("This payment is already voided."))
        self.void_transfer = reversal
        self.voided_at = timezone.now()
        self.save(update_fields=["void_transfer", "voided_at"])


class PaymentLine(models.Model):
    """One fee component of a payment, as charged, and what it credited.

    The agency, the ledger account and the service code are those of the moment
    the payment was posted (the account is the one its transfer's entry credits):
    settlement and the reports read them here, never from today's catalog, so an
    edit of the catalog cannot change who is paid for a past payment.
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="lines")
    component = models.ForeignKey(FeeComponent, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    # None for the post office's commission: no agency is owed it.
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="payment_lines"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    service_code = models.CharField(max_length=20)

    class Meta:
        ordering = ["payment", "component__position", "pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="line_positive")]

    def __str__(self) -> str:
        return f"{self.payment_id}: {self.component_id} {self.amount}"


class TopUp(models.Model):
    """Cash taken at the counter onto a prepaid card."""

    reference = models.CharField(_("reference"), max_length=14, unique=True)
    card = models.ForeignKey(PrepaidCard, on_delete=models.PROTECT, related_name="top_ups")
    session = models.ForeignKey(TillSession, on_delete=models.PROTECT, related_name="top_ups")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="top_up")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("card top-up")
        verbose_name_plural = _("card top-ups")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="top_up_positive")]

    def __str__(self) -> str:
        return self.reference
