"""Taking payments for government services, and voiding them with a supervisor.

A payment is one ledger transfer: cash into the till (or the card's balance
down) against every fee component's own account. The idempotency key is made
when the form is rendered, so a double click, a reload or a retried request
gives the same payment, never two.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from agents.permissions import scope_of
from core.clock import local_today
from core.errors import InvalidAmount, InvalidState
from core.retry import retry_on_conflict
from counter.checkdigit import new_reference
from counter.errors import CitizenRequired
from counter.models import Citizen, Payment, PaymentLine, PrepaidCard, Service
from counter.services import cards as card_services
from counter.services.catalog import (
    catalog_forget_uncommitted,
    component_account_id,
    references_clean,
    service_quote,
)
from float_management import services as till
from float_management import signals
from float_management.idempotency import run_once
from float_management.ledger import check_amount, transfer_post, transfer_reverse
from float_management.models import (
    Account,
    Request,
    RequestKind,
    SessionStatus,
    TransferKind,
)
from float_management.services import APPROVAL_HANDLERS

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from float_management.models import Transfer


def _check_citizen(service: Service, citizen: Citizen | None) -> None:
    if service.requires_citizen and citizen is None:
        raise CitizenRequired(
            _("This service needs a registered citizen: find or register one first.")
        )


def _post(
    *,
    agent,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    method: str,
    tendered: int | None = None,
    card: PrepaidCard | None = None,
) -> Payment:
    session = till.till_session_open_locked(agent)
    _check_citizen(service, citizen)
    quote = service_quote(service=service, amount=amount, day=local_today())
    cleaned = references_clean(service=service, data=references)
    if method == Payment.Method.CASH:
        till.ensure_cash_intake_allowed(session)
        check_amount(tendered)
        if tendered < quote.total:
            raise InvalidAmount(_("The cash tendered is less than the total."))
        source = session.account
    else:
        source = card.account
    legs = [(source, quote.total)]
    legs += [
        (Account(pk=component_account_id(component, service, session.branch)), -line)
        for component, line in quote.lines
    ]
    transfer = transfer_post(
        kind=TransferKind.PAYMENT,
        legs=legs,
        created_by=agent,
        branch=session.branch,
        memo=service.code,
        session=session,  # locked above: the audit head rides on the account lock
    )
    payment = Payment.objects.create(
        reference=new_reference(),
        session=session,
        branch=session.branch,
        agent=agent,
        citizen=citizen,
        service=service,
        schedule=quote.schedule,
        method=method,
        card=card,
        total=quote.total,
        tendered=tendered if method == Payment.Method.CASH else None,
        change=tendered - quote.total if method == Payment.Method.CASH else None,
        card_balance_after=None if card is None else card.account.balance - quote.total,
        references=cleaned,
        transfer=transfer,
    )
    # Each line keeps what it credited (the account ids come from memory: the legs above
    # looked them up), so settlement and reports never work it out from a later catalog.
    PaymentLine.objects.bulk_create(
        [
            PaymentLine(
                payment=payment,
                component=c,
                amount=line,
                account_id=component_account_id(c, service, session.branch),
                agency_id=(
                    None if c.kind == c.Kind.COMMISSION else (c.agency_id or service.agency_id)
                ),
                service_code=service.code,
            )
            for c, line in quote.lines
        ]
    )
    return payment


@contextmanager
def _forgetting_new_accounts_on_failure() -> Iterator[None]:
    """A failed payment takes the fee accounts it made with it: forget their cached ids."""
    try:
        yield
    except BaseException:
        catalog_forget_uncommitted()
        raise


def _payload(agent, service, citizen, amount, references) -> dict:
    return {
        "agent": agent.pk,
        "service": service.pk,
        "citizen": citizen.pk if citizen else None,
        "amount": amount,
        "references": dict(references),
    }


@retry_on_conflict
def payment_post_cash(
    *,
    agent,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    tendered: int,
    idempotency_key: str,
) -> Payment:
    """Take cash for `service`; change due is tendered − total."""
    with _forgetting_new_accounts_on_failure(), transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="payment_cash",
            payload={**_payload(agent, service, citizen, amount, references), "tendered": tendered},
            work=lambda: _post(
                agent=agent,
                service=service,
                citizen=citizen,
                amount=amount,
                references=references,
                method=Payment.Method.CASH,
                tendered=tendered,
            ),
            load=lambda pk: Payment.objects.get(pk=pk),
        )


@retry_on_conflict
def payment_post_card(
    *,
    agent,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    card_number: str,
    pin: str,
    idempotency_key: str,
) -> Payment:
    """Charge a prepaid card (PIN checked first; wrong PINs count even though this fails)."""
    card_services.card_check_pin(
        card_number=card_number, pin=pin, branch_id=scope_of(agent).branch_id
    )

    def work() -> Payment:
        card = card_services.card_usable_locked(card_number)
        return _post(
            agent=agent,
            service=service,
            citizen=citizen,
            amount=amount,
            references=references,
            method=Payment.Method.CARD,
            card=card,
        )

    with _forgetting_new_accounts_on_failure(), transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="payment_card",
            payload={**_payload(agent, service, citizen, amount, references), "card": card_number},
            work=work,
            load=lambda pk: Payment.objects.get(pk=pk),
        )


# --- Voids ----------------------------------------------------------------------------


@retry_on_conflict
def void_request(*, agent: User, payment: Payment, reason: str, idempotency_key: str) -> Request:
    """Ask a supervisor to void a payment of the agent's open session."""
    reason = reason.strip()
    if not reason:
        raise InvalidState(_("Give a reason for the void."))

    def work() -> Request:
        session = till.till_session_open_locked(agent)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.session_id != session.pk:
            raise InvalidState(_("Only payments of your open session can be voided."))
        if locked.is_voided:
            raise InvalidState(_("This payment is already voided."))
        if Request.objects.filter(
            kind=RequestKind.VOID, subject_id=locked.pk, decision__isnull=True
        ).exists():
            raise InvalidState(_("A void of this payment is already waiting for approval."))
        request = Request.objects.create(
            kind=RequestKind.VOID,
            branch=session.branch,
            session=session,
            amount=locked.total,
            reason=reason[:200],
            subject_id=locked.pk,
            requested_by=agent,
        )
        transaction.on_commit(
            lambda: signals.request_raised.send_robust(sender=Request, request=request)
        )
        return request

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="void_request",
            payload={"agent": agent.pk, "payment": payment.pk, "reason": reason},
            work=work,
            load=lambda pk: Request.objects.get(pk=pk),
        )


def _approve_void(request: Request, supervisor: User, **_kwargs: object) -> Transfer:
    """Reverse the payment's transfer: cash leaves the till, or goes back onto the card."""
    if request.session.status != SessionStatus.OPEN:
        raise InvalidState(_("Voids are approved only while the session is open."))
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("transfer")
        .get(pk=request.subject_id)
    )
    if payment.is_voided:
        raise InvalidState(_("This payment is already voided."))
    redirect = {}
    if payment.card_id is not None:
        # A card replaced since it paid is blocked: the refund goes to the card in use now.
        live = card_services.card_live_replacement(payment.card_id)
        if live.pk != payment.card_id:
            redirect[payment.card.account_id] = live.account
    reversal = transfer_reverse(
        transfer=payment.transfer,
        created_by=supervisor,
        kind=TransferKind.VOID,
        memo=payment.reference,
        session=request.session,  # locked by request_decide
        redirect=redirect,
    )
    payment.void(reversal=reversal)
    return reversal


APPROVAL_HANDLERS[RequestKind.VOID] = _approve_void
