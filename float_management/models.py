"""The ledger (accounts, transfers, entries), idempotency keys, and the till's day."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agents.models import Branch, Counter
from core.errors import InvalidState


class AccountKind(models.TextChoices):
    TILL = "till", _("Till cash")
    VAULT = "vault", _("Vault cash")
    TRANSIT = "transit", _("Cash in transit / bank")
    BANK = "bank", _("Head office bank")
    CARD = "card", _("Prepaid card balance")
    PAYABLE = "payable", _("Agency payable")
    COMMISSION = "commission", _("Post office commission")
    OVER_SHORT = "over_short", _("Cash over / short")
    # Money a provider owes the network for payments it took (a wallet, a bank card's
    # acquirer) until it settles to head office's bank.
    CLEARING = "clearing", _("Clearing (owed by a provider)")
    # Money a provider paid that is no payment's (a late or a second payment, a void of a
    # wallet payment): owed back to the citizen until the provider refunds it.
    REFUND_DUE = "refund_due", _("Refunds due to citizens")


# Debit-normal accounts (what the network holds). Their stored balance is the
# sum of their entries; for the others it is the negated sum, so every stored
# balance reads the natural way round (a card holding 50 EGP shows +5000).
ASSET_KINDS = frozenset(
    {
        AccountKind.TILL,
        AccountKind.VAULT,
        AccountKind.TRANSIT,
        AccountKind.BANK,
        AccountKind.CLEARING,
    }
)
# Accounts that can never go below zero: cash that is physically there, and
# card balances that can't be overspent.
NON_NEGATIVE_KINDS = frozenset({AccountKind.TILL, AccountKind.VAULT, AccountKind.CARD})


class Account(models.Model):
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices)
    # A stable name: "vault:01001", "till:42", "card:…", "payable:<service>:<component>".
    key = models.CharField(_("key"), max_length=80, unique=True)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    balance = models.BigIntegerField(_("balance (piastres)"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=sorted(NON_NEGATIVE_KINDS)) | Q(balance__gte=0),
                name="account_cash_and_cards_not_negative",
            )
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def sign(self) -> int:
        """+1 when a debit raises the stored balance, -1 when it lowers it."""
        return 1 if self.kind in ASSET_KINDS else -1


class TransferKind(models.TextChoices):
    BANK_IN = "bank_in", _("Cash from the bank")
    BANK_OUT = "bank_out", _("Cash to the bank")
    FLOAT_ISSUE = "float_issue", _("Float issued to a till")
    CASH_DROP = "cash_drop", _("Cash drop to the vault")
    CLOSE_VARIANCE = "close_variance", _("Close variance")
    CLOSE_RETURN = "close_return", _("Close: cash back to the vault")
    PAYMENT = "payment", _("Payment")
    TOP_UP = "top_up", _("Card top-up")
    CARD_MOVE = "card_move", _("Card balance moved")
    VOID = "void", _("Void")
    SETTLEMENT = "settlement", _("Settlement to an agency")
    REVERSAL = "reversal", _("Reversal")
    REFUND_HELD = "refund_held", _("Provider's money held to refund")
    REFUND = "refund", _("Refund through the provider")


class Transfer(models.Model):
    """One movement of money: entries that sum to zero. Never edited or deleted."""

    kind = models.CharField(_("kind"), max_length=20, choices=TransferKind.choices)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="transfers"
    )
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        indexes = [models.Index(fields=["branch", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class Entry(models.Model):
    """A signed amount on one account: positive is a debit, negative a credit."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(_("amount (piastres)"))

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"


class IdempotencyRecord(models.Model):
    """The first outcome of a request, so a retry with the same key returns it."""

    # One key, one request: within a scope a key is unique whatever the action, so a key
    # sent for a cash payment and again for a card payment (or a top-up) is refused, not
    # posted twice. Keys a service makes for itself (a decision's) live in their own scope,
    # so a key sent by a client can never squat them.
    key = models.CharField(max_length=80)
    scope = models.CharField(max_length=20, default="request")
    action = models.CharField(max_length=40)
    fingerprint = models.CharField(max_length=64)
    claim = models.UUIDField()
    result_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_per_scope")
        ]

    def __str__(self) -> str:
        return self.key


class Denomination(models.Model):
    """A note or coin the till can hold; kept in data so a new note needs no code."""

    class Form(models.TextChoices):
        NOTE = "note", _("Note")
        COIN = "coin", _("Coin")

    value = models.PositiveIntegerField(_("value (piastres)"))
    form = models.CharField(_("form"), max_length=4, choices=Form.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["-value", "-form"]
        verbose_name = _("denomination")
        verbose_name_plural = _("denominations")
        constraints = [
            models.UniqueConstraint(fields=["value", "form"], name="denomination_unique"),
            models.CheckConstraint(condition=Q(value__gt=0), name="denomination_positive"),
        ]

    def __str__(self) -> str:
        from core.money import format_amount

        return f"{format_amount(self.value)} ({self.get_form_display()})"


class SessionStatus(models.TextChoices):
    REQUESTED = "requested", _("Opening float requested")
    OPEN = "open", _("Open")
    CLOSING = "closing", _("Closing: count awaiting sign-off")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Opening refused")


ACTIVE_STATUSES = [SessionStatus.REQUESTED, SessionStatus.OPEN, SessionStatus.CLOSING]


class TillSession(models.Model):
    """One agent's day at one counter, from opening float to signed-off close."""

    counter = models.ForeignKey(Counter, on_delete=models.PROTECT, related_name="sessions")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="sessions")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="till_sessions"
    )
    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="session")
    status = models.CharField(
        _("status"), max_length=12, choices=SessionStatus.choices, default=SessionStatus.REQUESTED
    )
    requested_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    counted = models.BigIntegerField(_("counted cash (piastres)"), null=True, blank=True)
    expected = models.BigIntegerField(_("expected cash (piastres)"), null=True, blank=True)
    variance = models.BigIntegerField(_("variance (piastres)"), null=True, blank=True)

    class Meta:
        verbose_name = _("till session")
        verbose_name_plural = _("till sessions")
        constraints = [
            models.UniqueConstraint(
                fields=["counter"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_session_per_counter",
                violation_error_message=_("This counter already has an open session."),
            ),
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_session_per_agent",
                violation_error_message=_("You already have an open session."),
            ),
        ]
        indexes = [models.Index(fields=["branch", "status"])]

    def __str__(self) -> str:
        return f"{self.counter} · {self.agent.get_username()} · {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status == SessionStatus.OPEN

    # The session's transitions. Each checks the state it leaves (the caller holds the
    # row's lock) and saves only the fields it changes:
    #   requested → open | rejected;  open → closing;  closing → open | closed.

    def _require(self, status: str, message: str) -> None:
        if self.status != status:
            raise InvalidState(message)

    def open(self) -> None:
        """The opening float is issued: the agent may take payments."""
        self._require(
            SessionStatus.REQUESTED,
            gettext("This session is no longer waiting for its opening float."),
        )
        self.status = SessionStatus.OPEN
        self.opened_at = timezone.now()
        self.save(update_fields=["status", "opened_at"])

    def reject_opening(self) -> None:
        """The opening float is refused: the session ends before it began."""
        self._require(
            SessionStatus.REQUESTED,
            gettext("This session is no longer waiting for its opening float."),
        )
        self.status = SessionStatus.REJECTED
        self.closed_at = timezone.now()
        self.save(update_fields=["status", "closed_at"])

    def start_closing(self) -> None:
        """The agent's count is in: no more postings until a supervisor signs it off."""
        self._require(SessionStatus.OPEN, gettext("The till session is not open."))
        self.status = SessionStatus.CLOSING
        self.save(update_fields=["status"])

    def reopen(self) -> None:
        """The close sign-off is refused: the session is open again and the agent recounts."""
        self._require(
            SessionStatus.CLOSING, gettext("This session is not waiting for a close sign-off.")
        )
        self.status = SessionStatus.OPEN
        self.save(update_fields=["status"])

    def close(self, *, counted: int, expected: int, variance: int) -> None:
        """The close is signed off, with the count, the ledger's figure and their difference."""
        self._require(
            SessionStatus.CLOSING, gettext("This session is not waiting for a close sign-off.")
        )
        self.status = SessionStatus.CLOSED
        self.closed_at = timezone.now()
        self.counted, self.expected, self.variance = counted, expected, variance
        self.save(update_fields=["status", "closed_at", "counted", "expected", "variance"])


class RequestKind(models.TextChoices):
    OPENING_FLOAT = "opening_float", _("Opening float")
    TOP_UP_FLOAT = "top_up_float", _("Float top-up")
    CLOSE = "close", _("Close sign-off")
    VOID = "void", _("Void")
    CARD_MOVE = "card_move", _("Card balance move")
    REFUND = "refund", _("Refund to a citizen")


class Request(models.Model):
    """Something an agent asks a supervisor of the branch to approve (four eyes)."""

    kind = models.CharField(_("kind"), max_length=16, choices=RequestKind.choices)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="requests")
    session = models.ForeignKey(TillSession, on_delete=models.PROTECT, related_name="requests")
    amount = models.BigIntegerField(_("amount (piastres)"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # What the request is about when it is not the session itself (a payment to void).
    subject_id = models.BigIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["requested_at", "pk"]
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="request_amount_positive"
            )
        ]
        indexes = [models.Index(fields=["branch", "requested_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def decision_or_none(self) -> Decision | None:
        return getattr(self, "decision", None)


class Decision(models.Model):
    """A supervisor's approval or rejection of a request: written once, never changed."""

    request = models.OneToOneField(Request, on_delete=models.PROTECT, related_name="decision")
    approved = models.BooleanField()
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # Copied from the request so the database itself can refuse self-approval.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    transfer = models.ForeignKey(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        constraints = [
            models.CheckConstraint(
                condition=~Q(decided_by=F("requested_by")), name="decision_four_eyes"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request} → {'approved' if self.approved else 'rejected'}"


class CashCount(models.Model):
    """A count of a till by denomination (the agent's blind count, or a supervisor's recount)."""

    session = models.ForeignKey(TillSession, on_delete=models.PROTECT, related_name="counts")
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    counted_at = models.DateTimeField(default=timezone.now)
    total = models.BigIntegerField()

    class Meta:
        ordering = ["counted_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="count_total_not_negative")
        ]

    def __str__(self) -> str:
        return f"count #{self.pk} of {self.session_id}: {self.total}"


class CashCountLine(models.Model):
    count = models.ForeignKey(CashCount, on_delete=models.PROTECT, related_name="lines")
    denomination = models.ForeignKey(Denomination, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["count", "denomination"], name="count_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.denomination_id} × {self.quantity}"


class VaultMovement(models.Model):
    """Cash between the bank and a branch vault, with the two people who handled it."""

    class Direction(models.TextChoices):
        IN = "in", _("From the bank")
        OUT = "out", _("To the bank")

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="vault_movements")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    amount = models.BigIntegerField()
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Posted only when the witness confirms with their own login; until then no transfer.
    transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("vault movement")
        verbose_name_plural = _("vault movements")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="vault_movement_positive"),
            models.CheckConstraint(
                condition=~Q(handled_by=F("witnessed_by")), name="vault_movement_two_people"
            ),
            # Posted exactly when confirmed, and never both confirmed and cancelled.
            models.CheckConstraint(
                condition=(
                    Q(transfer__isnull=True, confirmed_at__isnull=True)
                    | Q(
                        transfer__isnull=False,
                        confirmed_at__isnull=False,
                        cancelled_at__isnull=True,
                    )
                ),
                name="vault_movement_posted_when_confirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.amount}"

    @property
    def is_pending(self) -> bool:
        return self.confirmed_at is None and self.cancelled_at is None
