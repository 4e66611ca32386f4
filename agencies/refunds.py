"""Money an agency gave back, held for the citizen and paid out at any branch's till.

- `refund_open`: in the transaction of the news (a refundable rejection, or the
  `payment_refused` signal of the outbox), the payment's transfer is reversed with its
  money-source leg (the till, the card, the clearing account that took the money)
  redirected into the agency refund-due account of the payment's branch. The till
  that took the cash is not touched. The agency payable goes back, unless the
  payment was already settled to the agency: then the agency owes it back, in an
  agency receivable (`clearing:agency-<code>:national`), and the payable it was
  paid from is left as settlement left it.
- `refund_find`: the receipt's payment reference AND the citizen's national ID, both;
  one refund or "not found" (never a list to browse, never which of the two was wrong).
- `refund_payout_request`: the agent at any branch asks a supervisor (float_management
  Request of kind REFUND, in the agent's open session).
- `_approve_refund` (APPROVAL_HANDLERS): a supervisor of that branch, not the agent,
  approves: refund-due -> the agent's till cash, which the agent then pays out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import AgencyRefund, RefundReason, RefundStatus
from audit import log as audit_log
from core.errors import DomainError, InsufficientFunds, InvalidState
from core.money import format_amount
from core.retry import retry_on_conflict
from counter.models import Payment
from counter.nationalid import normalize_national_id
from float_management import services as till
from float_management import signals
from float_management.idempotency import run_once
from float_management.ledger import (
    clearing_account,
    refund_due_account,
    transfer_post,
    transfer_reverse,
)
from float_management.models import (
    AccountKind,
    Request,
    RequestKind,
    SessionStatus,
    Transfer,
    TransferKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The refund-due accounts' provider name: money the agencies gave back.
PROVIDER = "agency"
# Has this payment's money already been paid to its agencies? Settlement (above this
# app) registers its answer at start-up (settlement.apps).
SETTLED_CHECKS: list[Callable[[Payment], bool]] = []


def agency_receivable(agency_code: str):  # noqa: ANN201
    """What an agency owes back: money it was paid for a payment it then gave back."""
    return clearing_account(f"agency-{agency_code}", None)


def _redirects(payment: Payment) -> dict[int, Any]:
    """The reversal's legs sent elsewhere: the money's source to refund-due, and (once
    settled) each agency's payable to what that agency owes back."""
    entries = list(payment.transfer.entries.select_related("account"))
    redirect = {
        e.account_id: refund_due_account(PROVIDER, payment.branch) for e in entries if e.amount > 0
    }
    if any(check(payment) for check in SETTLED_CHECKS):
        agency_of = {
            line.account_id: line.agency for line in payment.lines.select_related("agency")
        }
        for entry in entries:
            agency = agency_of.get(entry.account_id)
            if entry.amount < 0 and entry.account.kind == AccountKind.PAYABLE and agency:
                redirect[entry.account_id] = agency_receivable(agency.code)
    return redirect


class RefundNotFound(DomainError):
    """No refund is held under that payment reference for that national ID."""


def refund_open(*, payment: Payment, reason: str) -> AgencyRefund | None:
    """Hold the payment's money for its citizen: once, in the caller's transaction.

    Nothing is held for a voided payment (its void gave the money back already).
    """
    with transaction.atomic():
        locked = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("branch", "agent", "service__agency", "transfer")
            .get(pk=payment.pk)
        )
        existing = AgencyRefund.objects.filter(payment=locked).first()
        if existing is not None or locked.is_voided:
            return existing
        held = transfer_reverse(
            transfer=locked.transfer,
            # The ledger needs a person; the agency acted, on the payment's behalf.
            created_by=locked.agent,
            kind=TransferKind.REFUND_HELD,
            memo=f"agency refund {locked.reference}",
            redirect=_redirects(locked),
        )
        refund = AgencyRefund.objects.create(
            payment=locked, amount=locked.total, reason=reason, held_transfer=held
        )
        audit_log.append(
            stream=audit_log.branch_stream(locked.branch),
            action="agencies.refund_opened",
            actor_username=f"agency:{locked.service.agency.code}"[:150],
            object_type="agency_refund",
            object_id=refund.pk,
            branch=locked.branch_id,
            data={"payment": locked.reference, "amount": refund.amount, "reason": reason},
        )
        return refund


def on_payment_refused(sender: Any, notification: Any, code: str = "", **_kwargs: Any) -> None:
    """The agency's system refused a payment for good: its money is owed to the citizen."""
    refund_open(payment=notification.payment, reason=RefundReason.REFUSED)


# --- Collecting at a counter --------------------------------------------------------


def _matching(payment_reference: str, national_id: str):  # noqa: ANN202
    reference = payment_reference.strip()
    number = normalize_national_id(national_id or "")
    if not reference or not number:
        return AgencyRefund.objects.none()
    return AgencyRefund.objects.filter(
        payment__reference=reference, payment__citizen__national_id=number
    )


def _not_found() -> RefundNotFound:
    return RefundNotFound(
        _("No refund is held for this receipt and national ID. Check both and try again.")
    )


def refund_find(*, payment_reference: str, national_id: str) -> AgencyRefund:
    """The refund of the receipt's payment, if the national ID is its citizen's."""
    refund = (
        _matching(payment_reference, national_id)
        .select_related("payment__service", "payment__citizen", "payment__branch", "paid_branch")
        .first()
    )
    if refund is None:
        raise _not_found()
    return refund


@retry_on_conflict
def refund_payout_request(
    *, agent: User, payment_reference: str, national_id: str, idempotency_key: str
) -> Request:
    """Ask a supervisor of the agent's branch to let the till pay this refund out."""

    def work() -> Request:
        session = till.till_session_open_locked(agent)
        refund = (
            _matching(payment_reference, national_id)
            .select_for_update(of=("self",))
            .select_related("payment")
            .first()
        )
        if refund is None:
            raise _not_found()
        if refund.status == RefundStatus.REQUESTED:
            raise InvalidState(_("This refund is already waiting for a supervisor."))
        if refund.status == RefundStatus.PAID:
            raise InvalidState(_("This refund has already been paid out."))
        request = Request.objects.create(
            kind=RequestKind.REFUND,
            branch=session.branch,
            session=session,
            amount=refund.amount,
            reason=_("Agency refund of payment %(reference)s")
            % {"reference": refund.payment.reference},
            subject_id=refund.pk,
            requested_by=agent,
        )
        refund.status, refund.requested_by = RefundStatus.REQUESTED, agent
        refund.save(update_fields=["status", "requested_by"])
        audit_log.append(
            stream=audit_log.till_stream(session.pk),
            action="agencies.refund_requested",
            actor=agent,
            object_type="agency_refund",
            object_id=refund.pk,
            branch=session.branch_id,
            data={
                "payment": refund.payment.reference,
                "amount": refund.amount,
                "request": request.pk,
            },
        )
        transaction.on_commit(
            lambda: signals.request_raised.send_robust(sender=Request, request=request)
        )
        return request

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="agency_refund_request",
            payload={"agent": agent.pk, "payment": payment_reference.strip()},
            work=work,
            load=lambda pk: Request.objects.get(pk=pk),
        )


def _locked_refund(request: Request) -> AgencyRefund:
    refund = (
        AgencyRefund.objects.select_for_update(of=("self",))
        .select_related("payment__branch")
        .get(pk=request.subject_id)
    )
    if refund.status != RefundStatus.REQUESTED or refund.requested_by_id != request.requested_by_id:
        raise InvalidState(_("This refund is not waiting for this request's approval."))
    return refund


def approve_refund(request: Request, supervisor: User, **_kwargs: object) -> Transfer:
    """The till pays the refund out: refund-due -> the requesting agent's till cash."""
    session = request.session  # locked by request_decide
    if session.status != SessionStatus.OPEN:
        raise InvalidState(_("Refunds are paid only while the agent's till is open."))
    refund = _locked_refund(request)
    try:
        transfer = transfer_post(
            kind=TransferKind.REFUND,
            legs=[
                (refund_due_account(PROVIDER, refund.payment.branch), refund.amount),
                (session.account, -refund.amount),
            ],
            created_by=supervisor,
            branch=session.branch,
            memo=f"agency refund {refund.payment.reference}",
            session=session,
        )
    except InsufficientFunds:
        raise InsufficientFunds(
            _(
                "The till does not hold the %(amount)s EGP to pay this refund out: "
                "top up the till's float first, then approve."
            )
            % {"amount": format_amount(refund.amount)}
        ) from None
    refund.status, refund.paid_transfer = RefundStatus.PAID, transfer
    refund.paid_branch, refund.approved_by, refund.paid_at = (
        session.branch,
        supervisor,
        timezone.now(),
    )
    refund.save(update_fields=["status", "paid_transfer", "paid_branch", "approved_by", "paid_at"])
    audit_log.append(
        stream=audit_log.user_stream(supervisor.pk),
        action="agencies.refund_paid",
        actor=supervisor,
        object_type="agency_refund",
        object_id=refund.pk,
        branch=session.branch_id,
        data={
            "payment": refund.payment.reference,
            "amount": refund.amount,
            "requested_by": refund.requested_by_id,
            "transfer": transfer.pk,
        },
    )
    return transfer


def reject_refund(request: Request, supervisor: User, **_kwargs: object) -> None:
    """Not paid now: the refund waits for the citizen again (another visit, another ask)."""
    refund = _locked_refund(request)
    refund.status, refund.requested_by = RefundStatus.DUE, None
    refund.save(update_fields=["status", "requested_by"])
