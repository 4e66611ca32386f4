"""Taking payments for government services, and voiding them with a supervisor.

A payment is one ledger transfer: the total from the account of its method
(counter.methods: cash into the till, the card's balance down) against every
fee component's own account. The idempotency key is made
when the form is rendered, so a double click, a reload or a retried request
gives the same payment, never two.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.clock import local_today
from core.errors import DomainError, InvalidState
from core.retry import retry_on_conflict
from counter import integrations, methods
from counter.checkdigit import new_reference
from counter.errors import CitizenRequired
from counter.methods import PaymentMethod
from counter.models import Citizen, Payment, PaymentLine, Service
from counter.services.catalog import (
    Quote,
    catalog_forget_uncommitted,
    component_account_id,
    component_agency_id,
    references_clean,
    service_quote,
)
from float_management import services as till
from float_management import signals
from float_management.idempotency import recorded_result, run_once
from float_management.ledger import transfer_post, transfer_reverse
from float_management.models import (
    Account,
    Request,
    RequestKind,
    SessionStatus,
    Transfer,
    TransferKind,
)
from float_management.services import APPROVAL_HANDLERS

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _check_citizen(service: Service, citizen: Citizen | None) -> None:
    if service.requires_citizen and citizen is None:
        raise CitizenRequired(
            _("This service needs a registered citizen: find or register one first.")
        )


def _post(
    *,
    agent: User,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    method: PaymentMethod,
    tender: Mapping[str, Any],
    held: Any,
) -> Payment:
    session = till.till_session_open_locked(agent)
    _check_citizen(service, citizen)
    quote = service_quote(service=service, amount=amount, day=local_today())
    cleaned = references_clean(service=service, data=references)
    # What the apps above the counter hold for the payment (an agency's inquiry, locked).
    held_by_hooks = integrations.check(
        agent=agent, service=service, references=cleaned, amount=amount, lock=True
    )
    # The method's account pays the total; each fee component's account is credited.
    source = method.source(session=session, tender=tender, held=held, total=quote.total)
    legs = [(source.account, quote.total)]
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
        # A method whose money arrived by a reference of its own (a wallet's QR) keeps it.
        reference=source.fields.get("reference") or new_reference(),
        session=session,
        branch=session.branch,
        agent=agent,
        citizen=citizen,
        service=service,
        schedule=quote.schedule,
        method=method.key,
        total=quote.total,
        references=cleaned,
        transfer=transfer,
        **{name: value for name, value in source.fields.items() if name != "reference"},
    )
    # Each line keeps what it credited (the account ids come from memory: the legs above
    # looked them up), so settlement and reports never work it out from a later catalog.
    lines = PaymentLine.objects.bulk_create(
        [
            PaymentLine(
                payment=payment,
                component=c,
                amount=line,
                account_id=component_account_id(c, service, session.branch),
                agency_id=component_agency_id(c, service),
                service_code=service.code,
            )
            for c, line in quote.lines
        ]
    )
    # Kept as if prefetched: the receipt printed next reads them here, not again.
    prefetched = payment.lines.all()
    prefetched._result_cache, prefetched._prefetch_done = lines, True
    payment._prefetched_objects_cache = {"lines": prefetched}
    # In this transaction: what they write (the agencies' outbox) commits with the payment.
    integrations.posted(payment, held_by_hooks)
    return payment


@contextmanager
def _forgetting_new_accounts_on_failure() -> Iterator[None]:
    """A failed payment takes the fee accounts it made with it: forget their cached ids."""
    try:
        yield
    except BaseException:
        catalog_forget_uncommitted()
        raise


def _payload(
    agent: User,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
) -> dict[str, object]:
    return {
        "agent": agent.pk,
        "service": service.pk,
        "citizen": citizen.pk if citizen else None,
        "amount": amount,
        "references": dict(references),
    }


def payment_quote(
    *,
    agent: User | None = None,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    method: str,
    tender: Mapping[str, Any],
) -> Quote:
    """What the payment will cost, refused for the reasons its posting would refuse it.

    Posts nothing: the confirmation shows it, then `payment_post` checks it all again
    under the till's lock.
    """
    quote = service_quote(service=service, amount=amount, day=local_today())
    cleaned = references_clean(service=service, data=references)
    _check_citizen(service, citizen)
    if agent is not None:
        integrations.check(
            agent=agent, service=service, references=cleaned, amount=amount, lock=False
        )
    methods.get(method).check_total(tender, quote.total)
    return quote


def payment_fixed_quote(*, service: Service) -> Quote | None:
    """The quote of a fixed-fee service, known before anything is typed.

    None for a variable amount (its fees wait for the amount) and for a service
    that cannot be quoted today: the confirmation says why.
    """
    if service.amount_kind != Service.AmountKind.FIXED:
        return None
    try:
        return service_quote(service=service, amount=None, day=local_today())
    except InvalidState:
        return None


@retry_on_conflict
def payment_post(
    *,
    agent: User,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    method: str,
    tender: Mapping[str, Any],
    idempotency_key: str,
) -> Payment:
    """Take a payment for `service` by `method` (a key of counter.methods) and its tender.

    The method checks what must count even when the payment fails (a card's
    PIN) before the transaction, then locks what it pays from.
    """
    paying = methods.get(method)
    action = f"payment_{paying.key}"
    payload = {**_payload(agent, service, citizen, amount, references), **paying.payload(tender)}
    try:
        paying.check(agent=agent, tender=tender)
    except DomainError:
        # A retry of a payment that was posted (its answer lost) gets that payment back,
        # even if the check would refuse now (the card was blocked or locked since).
        first = recorded_result(key=idempotency_key, action=action, payload=payload)
        if first is None:
            raise
        return Payment.objects.get(pk=first)

    def work() -> Payment:
        held = paying.lock(tender)
        return _post(
            agent=agent,
            service=service,
            citizen=citizen,
            amount=amount,
            references=references,
            method=paying,
            tender=tender,
            held=held,
        )

    with _forgetting_new_accounts_on_failure(), transaction.atomic():
        return run_once(
            key=idempotency_key,
            action=action,
            payload=payload,
            work=work,
            load=lambda pk: Payment.objects.get(pk=pk),
        )


def payment_post_cash(
    *,
    agent: User,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    tendered: int,
    idempotency_key: str,
) -> Payment:
    """Take cash for `service`; change due is tendered − total."""
    return payment_post(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=amount,
        references=references,
        method="cash",
        tender={"tendered": tendered},
        idempotency_key=idempotency_key,
    )


def payment_post_card(
    *,
    agent: User,
    service: Service,
    citizen: Citizen | None,
    amount: int | None,
    references: Mapping[str, str],
    card_number: str,
    pin: str,
    idempotency_key: str,
) -> Payment:
    """Charge a prepaid card (PIN checked first; wrong PINs count even though this fails)."""
    return payment_post(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=amount,
        references=references,
        method="card",
        tender={"card_number": card_number, "pin": pin},
        idempotency_key=idempotency_key,
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
        _refuse_if_given_back(locked)
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


def _refuse_if_given_back(payment: Payment) -> None:
    """A payment whose transfer is reversed already (an agency's refund) has nothing to void."""
    if not payment.is_voided and Transfer.objects.filter(reverses_id=payment.transfer_id).exists():
        raise InvalidState(
            _(
                "This payment's money was already given back (a refund held for the citizen): "
                "it cannot be voided."
            )
        )


def _approve_void(request: Request, supervisor: User, **_kwargs: object) -> Transfer:
    """Reverse the payment's transfer: the money goes back where its method took it from."""
    if request.session.status != SessionStatus.OPEN:
        raise InvalidState(_("Voids are approved only while the session is open."))
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("transfer")
        .get(pk=request.subject_id)
    )
    if payment.is_voided:
        raise InvalidState(_("This payment is already voided."))
    _refuse_if_given_back(payment)
    reversal = transfer_reverse(
        transfer=payment.transfer,
        created_by=supervisor,
        kind=TransferKind.VOID,
        memo=payment.reference,
        session=request.session,  # locked by request_decide
        redirect=methods.get(payment.method).void_redirect(payment),
    )
    payment.void(reversal=reversal)
    methods.get(payment.method).voided(payment, by=supervisor)
    integrations.voided(payment, by=supervisor)
    return reversal


APPROVAL_HANDLERS[RequestKind.VOID] = _approve_void
