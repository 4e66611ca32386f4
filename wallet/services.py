"""Wallet payments: the QR shown at the counter, the money arriving, refunds.

- `intent_open`: the agent confirmed the service and amount; the QR is made
  (idempotent by the form's key), to be paid within `WALLET_QR_SECONDS`.
- `money_arrived`: the provider says a citizen paid (its signed callback, or
  our status query when the callback is late or lost). Once per provider
  transaction: the payment is posted if its QR is waiting for exactly that
  amount; otherwise (paid late, paid twice, a different amount, a QR we never
  made) the money is held in the branch's refund-due account and queued for a
  supervisor. Nothing is lost and nothing is posted twice.
- `refund_approve` / `refund_send`: a supervisor approves a refund (a void's
  refund is approved by the void's approval), then it is sent to the provider
  (idempotent by our refund id) and, once the provider confirms, the ledger
  moves the money out of refund-due.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import log as audit_log
from core.errors import DomainError, InvalidState
from core.retry import retry_on_conflict
from counter.checkdigit import new_reference
from counter.services.payments import payment_post, payment_quote
from float_management import services as till
from float_management.idempotency import run_once
from float_management.ledger import transfer_post
from float_management.models import SessionStatus, TillSession, TransferKind
from wallet import qr_payload
from wallet.method import clearing_account, refund_due_account
from wallet.models import (
    IntentStatus,
    ReceiptStatus,
    RefundReason,
    WalletIntent,
    WalletTransaction,
)
from wallet.providers import ProviderUnavailable, get_wallet_provider

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.contrib.auth.models import User

    from counter.models import Citizen, Payment, Service

logger = logging.getLogger(__name__)


def qr_seconds() -> int:
    return int(getattr(settings, "WALLET_QR_SECONDS", 300))


@retry_on_conflict
def intent_open(
    *,
    agent: User,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    method: str,
    tender: Mapping[str, Any],
    idempotency_key: str,
) -> WalletIntent:
    """The QR for this payment, made once per form (a reload shows the same QR)."""

    def work() -> WalletIntent:
        session = till.till_session_open_locked(agent)
        quote = payment_quote(
            agent=agent,
            service=service,
            citizen=citizen,
            amount=amount,
            references=references,
            method=method,
            tender=tender,
        )
        reference = new_reference()
        now = timezone.now()
        return WalletIntent.objects.create(
            reference=reference,
            agent=agent,
            session=session,
            branch=session.branch,
            service=service,
            citizen=citizen,
            amount=amount,
            references=dict(references),
            total=quote.total,
            payload=qr_payload.for_payment(
                reference=reference,
                total=quote.total,
                branch_code=session.branch.code,
                counter_number=session.counter.number,
                bill=service.code,
            ),
            created_at=now,
            expires_at=now + timedelta(seconds=qr_seconds()),
        )

    payload = {
        "agent": agent.pk,
        "service": service.pk,
        "citizen": citizen.pk if citizen else None,
        "amount": amount,
        "references": dict(references),
    }
    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="wallet_qr",
            payload=payload,
            work=work,
            load=lambda pk: WalletIntent.objects.get(pk=pk),
        )


def intent_cancel(*, agent: User, intent: WalletIntent) -> WalletIntent:
    """The agent gives up on a QR (the citizen pays another way): money after it is refunded."""
    with transaction.atomic():
        locked = WalletIntent.objects.select_for_update().get(pk=intent.pk)
        if locked.agent_id != agent.pk:
            raise InvalidState(_("This is not your QR."))
        if locked.status == IntentStatus.PENDING:
            locked.status = IntentStatus.CANCELLED
            locked.save(update_fields=["status"])
        return locked


def _why_not(intent: WalletIntent | None, amount: int, paid_at: datetime) -> tuple[str, str]:
    """Why this money pays no payment ("" when it pays its QR's)."""
    if intent is None:
        return RefundReason.UNKNOWN, ""
    if intent.status == IntentStatus.PAID:
        return RefundReason.TWICE, intent.payment.reference if intent.payment_id else ""
    if intent.status != IntentStatus.PENDING or paid_at > intent.expires_at:
        return RefundReason.EXPIRED, ""
    if amount != intent.total:
        return RefundReason.AMOUNT, ""
    if not TillSession.objects.filter(pk=intent.session_id, status=SessionStatus.OPEN).exists():
        return RefundReason.REFUSED, _("The till session of this QR is closed.")
    return "", ""


def _post_payment(intent: WalletIntent, txn_id: str) -> Payment:
    """The QR's payment, posted in a savepoint: refused whole, or posted at the QR's total."""
    with transaction.atomic():
        payment = payment_post(
            agent=intent.agent,
            service=intent.service,
            citizen=intent.citizen,
            amount=intent.amount,
            references=intent.references,
            method="wallet",
            tender={"txn_id": txn_id, "reference": intent.reference},
            # Made here, never by a client: the transaction id is what is posted once.
            idempotency_key=f"wallet:{uuid.uuid4().hex}",
        )
        if payment.total != intent.total:
            raise InvalidState(_("The fees changed since the QR was shown."))
        return payment


def _hold(txn: WalletTransaction, branch: Any, by: User) -> None:
    """The provider's money, owed back: clearing (the provider owes it) against refund-due."""
    txn.held_transfer = transfer_post(
        kind=TransferKind.REFUND_HELD,
        legs=[(clearing_account(branch), txn.amount), (refund_due_account(branch), -txn.amount)],
        created_by=by,
        branch=branch,
        memo=txn.txn_id,
    )


@retry_on_conflict
def money_arrived(
    *,
    txn_id: str,
    reference: str,
    amount: int,
    paid_at: datetime,
    wallet: str = "",
    via: str,
) -> WalletTransaction:
    """The provider took `amount` for the QR `reference`: pay its payment, or queue a refund."""
    if type(amount) is not int or amount <= 0:
        raise InvalidState(_("A wallet payment's amount is a positive number of piastres."))
    try:
        with transaction.atomic():
            # Callbacks and status queries of one QR queue here, one at a time.
            intent = (
                WalletIntent.objects.select_for_update(of=("self",))
                .select_related("payment")
                .filter(reference=reference)
                .first()
            )
            seen = WalletTransaction.objects.filter(txn_id=txn_id).first()
            if seen is not None:
                return seen  # a duplicate, a replay or a status query after the callback
            reason, detail = _why_not(intent, amount, paid_at)
            payment = None
            if not reason:
                try:
                    payment = _post_payment(intent, txn_id)
                except (DomainError, ValidationError) as refused:
                    reason = RefundReason.REFUSED
                    detail = str(getattr(refused, "message", refused))
            txn = WalletTransaction(
                txn_id=txn_id,
                reference=reference,
                amount=amount,
                paid_at=paid_at,
                wallet=wallet[:32],
                via=via,
                intent=intent,
                branch=intent.branch if intent else None,
            )
            if payment is not None:
                txn.status, txn.payment = ReceiptStatus.APPLIED, payment
                intent.status, intent.payment = IntentStatus.PAID, payment
                intent.save(update_fields=["status", "payment"])
            else:
                txn.status, txn.reason, txn.detail = ReceiptStatus.REFUND_DUE, reason, detail[:200]
                if intent is not None:
                    if intent.status == IntentStatus.PENDING and reason == RefundReason.EXPIRED:
                        intent.status = IntentStatus.EXPIRED
                        intent.save(update_fields=["status"])
                    _hold(txn, intent.branch, intent.agent)
            txn.save()
            return txn
    except IntegrityError:
        # Two deliveries of one unknown transaction raced; the other one wrote it.
        seen = WalletTransaction.objects.filter(txn_id=txn_id).first()
        if seen is None:
            raise
        return seen


def intents_expire(now: datetime | None = None) -> int:
    """Mark the QRs past their time; money that still comes for them is refunded."""
    now = now or timezone.now()
    return WalletIntent.objects.filter(status=IntentStatus.PENDING, expires_at__lt=now).update(
        status=IntentStatus.EXPIRED
    )


def intents_query(*, older_than: float = 3.0, now: datetime | None = None) -> int:
    """Ask the provider about QRs still waiting: a callback may be late or lost.

    Each waiting QR older than `older_than` seconds is asked about at most once a
    `older_than` seconds, and for a minute after it expired (money paid just
    before the end). Returns how many payments this found.
    """
    now = now or timezone.now()
    due = now - timedelta(seconds=older_than)
    waiting = WalletIntent.objects.filter(
        status__in=[IntentStatus.PENDING, IntentStatus.EXPIRED],
        created_at__lt=due,
        expires_at__gt=now - timedelta(seconds=60),
        payment__isnull=True,
    ).exclude(queried_at__gt=due)
    batch = list(waiting.order_by("created_at").values_list("pk", "reference")[:200])
    # One statement for the batch: a QR not reached (the provider went away) waits one turn.
    WalletIntent.objects.filter(pk__in=[pk for pk, _reference in batch]).update(queried_at=now)
    provider = get_wallet_provider()
    found = 0
    for _pk, reference in batch:
        try:
            paid = provider.payments_for(reference)
        except ProviderUnavailable as error:
            logger.warning("wallet status query failed: %s", error)
            break
        for payment in paid:
            txn = money_arrived(
                txn_id=payment.txn_id,
                reference=payment.reference,
                amount=payment.amount,
                paid_at=payment.paid_at,
                wallet=payment.wallet,
                via="status",
            )
            found += txn.status == ReceiptStatus.APPLIED
    return found


# --- Refunds --------------------------------------------------------------------------


def refund_for_void(*, payment: Payment, by: User) -> None:
    """In a void's transaction: the voided wallet payment's money goes back by the provider.

    The void's reversal already owes it to the citizen (WalletMethod.void_redirect);
    the void was approved by a supervisor, so the refund is approved with it.
    """
    txn = WalletTransaction.objects.select_for_update().get(payment=payment)
    txn.status, txn.reason = ReceiptStatus.REFUND_DUE, RefundReason.VOIDED
    txn.held_transfer = payment.void_transfer
    txn.refund_approved_by = by
    txn.refund_id = uuid.uuid4().hex
    txn.save(update_fields=["status", "reason", "held_transfer", "refund_approved_by", "refund_id"])
    transaction.on_commit(lambda: _send_quietly(txn.pk))


@retry_on_conflict
def refund_approve(*, supervisor: User, txn: WalletTransaction) -> WalletTransaction:
    """A supervisor approves giving this money back; it is sent to the provider after commit."""
    with transaction.atomic():
        locked = WalletTransaction.objects.select_for_update().get(pk=txn.pk)
        if locked.status != ReceiptStatus.REFUND_DUE or locked.refund_approved_by_id:
            raise InvalidState(_("This refund is not waiting for approval."))
        if locked.intent_id and locked.intent.agent_id == supervisor.pk:
            raise InvalidState(_("The agent who showed the QR cannot approve its refund."))
        if locked.held_transfer_id is None:
            # Money for a QR we never made: held from now, at head office.
            locked.held_transfer = transfer_post(
                kind=TransferKind.REFUND_HELD,
                legs=[
                    (clearing_account(None), locked.amount),
                    (refund_due_account(None), -locked.amount),
                ],
                created_by=supervisor,
                memo=locked.txn_id,
            )
        locked.refund_approved_by = supervisor
        locked.refund_id = uuid.uuid4().hex
        locked.save()
        audit_log.append(
            stream=audit_log.user_stream(supervisor.pk),
            action="wallet.refund_approved",
            actor=supervisor,
            object_type="wallet_transaction",
            object_id=locked.pk,
            branch=locked.branch_id,
            data={"txn": locked.txn_id, "amount": locked.amount, "reason": locked.reason},
        )
        transaction.on_commit(lambda: _send_quietly(locked.pk))
        return locked


def _send_quietly(pk: int) -> None:
    try:
        refund_send(WalletTransaction.objects.get(pk=pk))
    except ProviderUnavailable as error:
        logger.warning("wallet refund not sent yet (the worker retries): %s", error)


def refund_send(txn: WalletTransaction) -> WalletTransaction:
    """Send an approved refund to the provider (again, if unsure: it is idempotent)."""
    if txn.status == ReceiptStatus.REFUNDED or not txn.refund_approved_by_id:
        return txn
    get_wallet_provider().refund(refund_id=txn.refund_id, txn_id=txn.txn_id, amount=txn.amount)
    return _refunded(txn.pk)


@retry_on_conflict
def _refunded(pk: int) -> WalletTransaction:
    with transaction.atomic():
        txn = (
            WalletTransaction.objects.select_for_update(of=("self",))
            .select_related("branch")
            .get(pk=pk)
        )
        if txn.status == ReceiptStatus.REFUNDED:
            return txn
        branch = txn.branch
        txn.refund_transfer = transfer_post(
            kind=TransferKind.REFUND,
            legs=[
                (refund_due_account(branch), txn.amount),
                (clearing_account(branch), -txn.amount),
            ],
            created_by=txn.refund_approved_by,
            branch=branch,
            memo=txn.txn_id,
        )
        txn.status, txn.refunded_at = ReceiptStatus.REFUNDED, timezone.now()
        txn.save(update_fields=["refund_transfer", "status", "refunded_at"])
        audit_log.append(
            stream=audit_log.user_stream(txn.refund_approved_by_id),
            action="wallet.refunded",
            actor=txn.refund_approved_by,
            object_type="wallet_transaction",
            object_id=txn.pk,
            branch=txn.branch_id,
            data={"txn": txn.txn_id, "amount": txn.amount, "refund": txn.refund_id},
        )
        return txn


def refunds_send_due() -> int:
    """The worker's pass: every approved refund not yet confirmed by the provider."""
    sent = 0
    for txn in WalletTransaction.objects.filter(
        status=ReceiptStatus.REFUND_DUE, refund_approved_by__isnull=False
    ).order_by("pk")[:100]:
        try:
            refund_send(txn)
        except ProviderUnavailable as error:
            logger.warning("wallet refund not sent yet: %s", error)
            break
        sent += 1
    return sent
