"""A reconciliation run of one outside system's daily file, and its lines.

A run is never changed: running a day again makes a new run, and the latest
one counts (the history of earlier runs is kept).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from counter.models import Payment
from wallet.models import WalletTransaction


class Source(models.TextChoices):
    """The outside systems that take money for us and send a daily file."""

    WALLET = "wallet", _("Mobile wallet")
    BANKCARD = "bankcard", _("Bank card")


class ItemKind(models.TextChoices):
    MATCHED = "matched", _("Matched")
    ONLY_OURS = "only_ours", _("Only in our books")
    ONLY_THEIRS = "only_theirs", _("Only in their file")
    AMOUNT_DIFFERS = "amount_differs", _("Amounts differ")


EXCEPTION_KINDS = (ItemKind.ONLY_OURS, ItemKind.ONLY_THEIRS, ItemKind.AMOUNT_DIFFERS)


class Entry(models.TextChoices):
    """What a line is: money taken, or money given back (a wallet refund, negative)."""

    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")


class ReconciliationRun(models.Model):
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    business_day = models.DateField(_("business day"))
    ran_at = models.DateTimeField(_("ran at"), default=timezone.now)
    # Empty when run by the `reconcile` command without a person.
    ran_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ran by"),
    )
    matched = models.PositiveIntegerField(_("matched"), default=0)
    only_ours = models.PositiveIntegerField(_("only in our books"), default=0)
    only_theirs = models.PositiveIntegerField(_("only in their file"), default=0)
    amount_differs = models.PositiveIntegerField(_("amounts differ"), default=0)
    # Signed sums in piastres: a refund counts negative on both sides.
    total_ours = models.BigIntegerField(_("our total (piastres)"), default=0)
    total_theirs = models.BigIntegerField(_("their total (piastres)"), default=0)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-business_day", "source", "-ran_at", "-pk"]
        indexes = [models.Index(fields=["business_day", "source", "ran_at"])]

    def __str__(self) -> str:
        return f"{self.source} {self.business_day.isoformat()} #{self.pk}"

    @property
    def exceptions(self) -> int:
        return self.only_ours + self.only_theirs + self.amount_differs


class ReconciliationItem(models.Model):
    """One key of the day: on both sides (matched or not in amount), or on one side only."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(_("kind"), max_length=16, choices=ItemKind.choices)
    entry = models.CharField(
        _("entry"), max_length=10, choices=Entry.choices, default=Entry.PAYMENT
    )
    # The key both sides are matched by: the wallet's transaction id, or the
    # card terminal's "terminal:approval code".
    their_key = models.CharField(_("key"), max_length=80)
    our_amount = models.BigIntegerField(_("our amount (piastres)"), null=True, blank=True)
    their_amount = models.BigIntegerField(_("their amount (piastres)"), null=True, blank=True)
    their_at = models.DateTimeField(_("time in their file"), null=True, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    wallet_transaction = models.ForeignKey(
        WalletTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("reconciliation line")
        verbose_name_plural = _("reconciliation lines")
        ordering = ["pk"]
        indexes = [models.Index(fields=["run", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.their_key}"

    @property
    def difference(self) -> int | None:
        """Theirs minus ours, when both sides have the key."""
        if self.our_amount is None or self.their_amount is None:
            return None
        return self.their_amount - self.our_amount
