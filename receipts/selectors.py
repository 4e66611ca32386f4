"""From a receipt number to what the receipt says."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import OuterRef, Prefetch, Subquery

from agencies.models import (
    Notification,
    NotificationKind,
    NotificationStatus,
    RequestStatus,
    ServiceRequest,
)
from agencies.services import integration_for
from agents.permissions import Action, can
from counter import methods
from counter.models import Payment, PaymentLine, TopUp
from counter.nationalid import mask_national_id
from counter.services.catalog import service_fields
from receipts.data import AgencyConfirmation, ReceiptData, ReceiptLine
from receipts.models import Receipt, ReceiptPrint
from receipts.tokens import print_from

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from agents.models import Branch

_PAYMENT_RELATED = (
    "service__agency",
    "branch",
    "session__counter",
    "agent",
    "citizen",
    "card",
)


def receipt_find(reference: str) -> Receipt | None:
    """The receipt with this number, or None.

    Reads only: a payment or top-up not printed yet has no row, and gets an
    unsaved Receipt (its first print makes the row, `services.receipt_print`).
    """
    receipt = (
        Receipt.objects.select_related("payment__branch", "top_up__branch")
        .filter(reference=reference)
        .first()
    )
    if receipt is not None:
        return receipt
    payment = Payment.objects.select_related("branch").filter(reference=reference).first()
    top_up = (
        None
        if payment
        else TopUp.objects.select_related("branch").filter(reference=reference).first()
    )
    if payment is None and top_up is None:
        return None
    return Receipt(
        reference=reference,
        kind=Receipt.Kind.PAYMENT if payment else Receipt.Kind.TOP_UP,
        payment=payment,
        top_up=top_up,
    )


def void_slip_for(payment: Payment) -> Receipt | None:
    """The void slip of a voided payment: made when the void was approved (never by a read)."""
    return Receipt.objects.filter(payment=payment, kind=Receipt.Kind.VOID).first()


def branch_of(receipt: Receipt) -> Branch:
    """The branch a receipt belongs to, for scoping."""
    return receipt.payment.branch if receipt.payment_id else receipt.top_up.branch


def agent_id_of(receipt: Receipt) -> int:
    """The agent who took the payment or the top-up (for a void slip: the voided payment's)."""
    return receipt.payment.agent_id if receipt.payment_id else receipt.top_up.agent_id


def printer_role(user: User, receipt: Receipt) -> str | None:
    """ "agent" or "supervisor" if `user` may print `receipt`, else None.

    The original and its copies are the agent's who took the payment; the
    branch supervisor may reprint (and is audited, as every print is).
    """
    branch = branch_of(receipt)
    if can(user, Action.OPERATE_COUNTER, branch) and user.pk == agent_id_of(receipt):
        return "agent"
    if can(user, Action.APPROVE, branch):
        return "supervisor"
    return None


def print_for_link(token: str, *, user: User) -> ReceiptPrint | None:
    """The print a link from `tokens.print_token_for` names, if it is `user`'s and still fresh."""
    print_id = print_from(token)
    if print_id is None:
        return None
    return (
        ReceiptPrint.objects.select_related(
            *(f"receipt__payment__{name}" for name in _PAYMENT_RELATED), "receipt__top_up__branch"
        )
        .filter(pk=print_id, printed_by=user)
        .first()
    )


def print_data(printed: ReceiptPrint, *, verify_url: str) -> ReceiptData:
    """What one print of a receipt says (`print_for_link` read its payment with it)."""
    receipt = printed.receipt
    if not receipt.payment_id:
        return receipt_data(receipt, copy_number=printed.copy_number, verify_url=verify_url)
    return payment_receipt_data(
        receipt.payment,
        kind=receipt.kind,
        reference=receipt.reference,
        copy_number=printed.copy_number,
        verify_url=verify_url,
    )


# A payment's lines with their fee components, in one query.
_LINES = Prefetch("lines", queryset=PaymentLine.objects.select_related("component"))


def _lines_of(payment: Payment) -> list[PaymentLine]:
    if "lines" in getattr(payment, "_prefetched_objects_cache", {}):
        return list(payment.lines.all())
    return list(PaymentLine.objects.filter(payment=payment).select_related("component"))


def receipt_data(receipt: Receipt, *, copy_number: int, verify_url: str) -> ReceiptData:
    """Everything the receipt shows, in both languages, from the database."""
    if receipt.top_up_id:
        top_up = TopUp.objects.select_related(
            "branch", "session__counter", "agent", "card__citizen"
        ).get(pk=receipt.top_up_id)
        citizen = top_up.card.citizen
        return ReceiptData(
            kind="top_up",
            reference=receipt.reference,
            branch_ar=top_up.branch.name_ar,
            branch_en=top_up.branch.name_en,
            branch_code=top_up.branch.code,
            counter_number=top_up.session.counter.number,
            agent_name=top_up.agent.get_full_name() or top_up.agent.get_username(),
            issued_at=top_up.created_at,
            total=top_up.amount,
            verify_url=verify_url,
            citizen_name=citizen.name_ar,
            national_id_masked=mask_national_id(citizen.national_id),
            lines=[ReceiptLine("شحن بطاقة", "Card top-up", top_up.amount)],
            tendered=None,
            card_masked=top_up.card.masked_number,
            card_balance_after=top_up.balance_after,
            copy_number=copy_number,
        )
    payment = (
        Payment.objects.select_related(*_PAYMENT_RELATED)
        .prefetch_related(_LINES)
        .get(pk=receipt.payment_id)
    )
    return payment_receipt_data(
        payment,
        kind=receipt.kind,
        reference=receipt.reference,
        copy_number=copy_number,
        verify_url=verify_url,
    )


_CONFIRMATION = {
    NotificationStatus.PENDING: "waiting",
    NotificationStatus.UNKNOWN: "waiting",
    NotificationStatus.ACKNOWLEDGED: "confirmed",
    NotificationStatus.REFUSED: "refused",
}


def agency_confirmation(payment: Payment) -> AgencyConfirmation | None:
    """What the agency's system has said of `payment`, if its service is integrated.

    A service that is not integrated costs no query (the integrations are held in
    memory, agencies.services.integration_for); an integrated one costs one: the
    payment's notification, with its request's status when the service opens one.
    A payment made before its service was integrated has no notification: None.
    """
    integration = integration_for(payment.service)
    if integration is None:
        return None
    rows = Notification.objects.filter(payment=payment, kind=NotificationKind.PAYMENT)
    fields = ["status", "acknowledged_at", "agency_txn_id"]
    if integration.opens_request:
        request = ServiceRequest.objects.filter(payment_id=OuterRef("payment_id"))
        rows = rows.annotate(
            request_status=Subquery(request.values("status")[:1]),
            request_reason=Subquery(request.values("reason")[:1]),
        )
        fields += ["request_status", "request_reason"]
    row = rows.values(*fields).first()
    if row is None:
        return None
    status = _CONFIRMATION.get(row["status"], "waiting")
    request_status = row.get("request_status") or ""
    return AgencyConfirmation(
        status=status,
        confirmed_at=row["acknowledged_at"],
        agency_reference=row["agency_txn_id"] if status == "confirmed" else "",
        request_status=request_status,
        request_label=RequestStatus(request_status).label if request_status else "",
        request_reason=(
            row.get("request_reason") or "" if request_status == RequestStatus.REJECTED else ""
        ),
    )


def payment_receipt_data(
    payment: Payment, *, kind: str, reference: str, copy_number: int, verify_url: str
) -> ReceiptData:
    """What the receipt (or the void slip) of `payment` says.

    From the payment as it is in hand: one just posted has its service, till,
    branch, agent and citizen with it, and its lines are read in one query. A
    payment of an integrated service adds one query: what its agency has said.
    """
    labels = {f.code: (f.label_ar, f.label_en) for f in service_fields(payment.service)}
    is_void_slip = kind == Receipt.Kind.VOID
    citizen = payment.citizen
    return ReceiptData(
        kind=kind,
        reference=reference,
        branch_ar=payment.branch.name_ar,
        branch_en=payment.branch.name_en,
        branch_code=payment.branch.code,
        counter_number=payment.session.counter.number,
        agent_name=payment.agent.get_full_name() or payment.agent.get_username(),
        issued_at=payment.voided_at if is_void_slip else payment.created_at,
        total=payment.total,
        verify_url=verify_url,
        method=payment.method,
        citizen_name=citizen.name_ar if citizen else None,
        national_id_masked=mask_national_id(citizen.national_id) if citizen else None,
        service_ar=payment.service.name_ar,
        service_en=payment.service.name_en,
        agency_ar=payment.service.agency.name_ar,
        agency_en=payment.service.agency.name_en,
        budget_item=payment.service.budget_item,
        payment_reference=payment.reference if is_void_slip else None,
        references=[
            (*labels.get(code, (code, code)), value) for code, value in payment.references.items()
        ],
        lines=[
            ReceiptLine(line.component.name_ar, line.component.name_en, line.amount)
            for line in _lines_of(payment)
        ],
        tendered=payment.tendered,
        change=payment.change,
        card_masked=payment.card.masked_number if payment.card_id else None,
        card_balance_after=payment.card_balance_after,
        method_rows=methods.get(payment.method).receipt_rows(payment),
        copy_number=copy_number,
        voided=payment.is_voided and not is_void_slip,
        agency=(
            agency_confirmation(payment)
            if kind == Receipt.Kind.PAYMENT and not payment.is_voided
            else None
        ),
    )
