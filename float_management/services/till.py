"""The till's day: asking for the opening float and top-ups, cash drops, the closing count.

Each public function is one transaction (retried on deadlock), takes keyword arguments,
and raises a DomainError whose message a person can read. Money-moving functions take
an idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agents.models import Counter
from agents.permissions import Action, can
from core.errors import InvalidState, NotAllowed, TillOverLimit
from core.retry import retry_on_conflict
from float_management import signals
from float_management.idempotency import run_once
from float_management.ledger import (
    account_for,
    check_amount,
    transfer_post,
    vault_account,
)
from float_management.models import (
    ACTIVE_STATUSES,
    AccountKind,
    CashCount,
    CashCountLine,
    Denomination,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    Transfer,
    TransferKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _on_commit_session(session: TillSession) -> None:
    transaction.on_commit(
        lambda: signals.session_changed.send_robust(sender=TillSession, session=session)
    )


def _raise_request(request: Request) -> Request:
    transaction.on_commit(
        lambda: signals.request_raised.send_robust(sender=Request, request=request)
    )
    return request


# --- The open session ---------------------------------------------------------------


def ensure_cash_intake_allowed(session: TillSession) -> None:
    """Refuse new cash into a till that holds more than its branch's limit."""
    limit = session.branch.till_cash_limit
    if session.account.balance > limit:
        raise TillOverLimit(
            _("The till holds more than its limit. Make a cash drop to the vault first.")
        )


# Said by the refusal and shown on the payment form while the close awaits sign-off.
TILL_CLOSING_MESSAGE = gettext_lazy(
    "Your till is being closed: no payments until it is reopened or closed."
)


def till_session_open_locked(agent: User) -> TillSession:
    """The agent's open session, locked for this transaction (their postings queue on it)."""
    if not can(agent, Action.OPERATE_COUNTER):
        raise NotAllowed(_("Only counter agents work at a till."))
    session = (
        TillSession.objects.select_for_update(of=("self",))
        .select_related("account", "branch", "counter")  # the counter: for the receipt
        .filter(agent=agent, status=SessionStatus.OPEN)
        .first()
    )
    if session is None:
        # Only on the refusal: a till being closed is not one to open.
        if TillSession.objects.filter(agent=agent, status=SessionStatus.CLOSING).exists():
            raise InvalidState(str(TILL_CLOSING_MESSAGE))
        raise InvalidState(_("Open your till before taking payments."))
    return session


def ensure_session_open(session: TillSession, agent: User) -> None:
    if session.agent_id != agent.pk:
        raise NotAllowed(_("This is not your till session."))
    if session.status != SessionStatus.OPEN:
        raise InvalidState(_("The till session is not open."))


# --- Opening a till ----------------------------------------------------------------


@retry_on_conflict
def till_session_request_open(
    *, agent: User, counter: Counter, amount: int, idempotency_key: str
) -> TillSession:
    """Ask for an opening float at `counter`; the session opens when a supervisor approves."""
    check_amount(amount)
    if not can(agent, Action.OPERATE_COUNTER, counter.branch):
        raise NotAllowed(_("You can only open a till at a counter of your branch."))
    if not counter.is_active:
        raise InvalidState(_("This counter is not in service."))

    def work() -> TillSession:
        if TillSession.objects.filter(agent=agent, status__in=ACTIVE_STATUSES).exists():
            raise InvalidState(_("You already have an open session."))
        if TillSession.objects.filter(counter=counter, status__in=ACTIVE_STATUSES).exists():
            raise InvalidState(_("This counter already has an open session."))
        now = timezone.now()
        account = account_for(
            AccountKind.TILL,
            f"till:{counter.branch.code}:{counter.number}:{uuid.uuid4().hex}",
            branch=counter.branch,
        )
        try:
            with transaction.atomic():
                session = TillSession.objects.create(
                    counter=counter,
                    branch=counter.branch,
                    agent=agent,
                    account=account,
                    requested_at=now,
                )
        except IntegrityError:  # a concurrent request won the counter or the agent
            raise InvalidState(_("This counter or agent already has an open session.")) from None
        _raise_request(
            Request.objects.create(
                kind=RequestKind.OPENING_FLOAT,
                branch=counter.branch,
                session=session,
                amount=amount,
                requested_by=agent,
            )
        )
        _on_commit_session(session)
        return session

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="till_open",
            payload={"agent": agent.pk, "counter": counter.pk, "amount": amount},
            work=work,
            load=lambda pk: TillSession.objects.get(pk=pk),
        )


@retry_on_conflict
def float_request_top_up(
    *, agent: User, session: TillSession, amount: int, idempotency_key: str
) -> Request:
    """Ask for more float during the day."""
    check_amount(amount)

    def work() -> Request:
        locked = TillSession.objects.select_for_update().get(pk=session.pk)
        ensure_session_open(locked, agent)
        return _raise_request(
            Request.objects.create(
                kind=RequestKind.TOP_UP_FLOAT,
                branch=locked.branch,
                session=locked,
                amount=amount,
                requested_by=agent,
            )
        )

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="float_top_up",
            payload={"agent": agent.pk, "session": session.pk, "amount": amount},
            work=work,
            load=lambda pk: Request.objects.get(pk=pk),
        )


# --- Cash drop -----------------------------------------------------------------------


@retry_on_conflict
def cash_drop(*, agent: User, session: TillSession, amount: int, idempotency_key: str) -> Transfer:
    """Move cash from the agent's till to the branch vault."""
    check_amount(amount)

    def work() -> Transfer:
        locked = (
            TillSession.objects.select_for_update(of=("self",))
            .select_related("branch", "account")
            .get(pk=session.pk)
        )
        ensure_session_open(locked, agent)
        transfer = transfer_post(
            kind=TransferKind.CASH_DROP,
            legs=[(vault_account(locked.branch), amount), (locked.account, -amount)],
            created_by=agent,
            branch=locked.branch,
            session=locked,
        )
        _on_commit_session(locked)
        return transfer

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="cash_drop",
            payload={"agent": agent.pk, "session": session.pk, "amount": amount},
            work=work,
            load=lambda pk: Transfer.objects.get(pk=pk),
        )


# --- Close -------------------------------------------------------------------------------


def _count_total(counts: Mapping[int, int]) -> tuple[int, list[tuple[Denomination, int]]]:
    denominations = {d.pk: d for d in Denomination.objects.filter(is_active=True)}
    lines: list[tuple[Denomination, int]] = []
    for pk, quantity in counts.items():
        if pk not in denominations:
            raise InvalidState(_("Unknown denomination."))
        if type(quantity) is not int or quantity < 0:
            raise InvalidState(_("Counts are whole numbers, zero or more."))
        if quantity:
            lines.append((denominations[pk], quantity))
    return sum(d.value * q for d, q in lines), lines


def _record_count(session: TillSession, counted_by: User, counts: Mapping[int, int]) -> CashCount:
    total, lines = _count_total(counts)
    count = CashCount.objects.create(session=session, counted_by=counted_by, total=total)
    CashCountLine.objects.bulk_create(
        [CashCountLine(count=count, denomination=d, quantity=q) for d, q in lines]
    )
    return count


@retry_on_conflict
def till_session_submit_count(
    *, agent: User, session: TillSession, counts: Mapping[int, int], idempotency_key: str
) -> Request:
    """The agent's blind count at close: the session takes no more postings until sign-off."""

    def work() -> Request:
        locked = TillSession.objects.select_for_update().get(pk=session.pk)
        ensure_session_open(locked, agent)
        if locked.requests.filter(decision__isnull=True).exclude(kind=RequestKind.CLOSE).exists():
            raise InvalidState(_("Wait for the pending requests of this session to be decided."))
        count = _record_count(locked, agent, counts)
        locked.start_closing()
        _on_commit_session(locked)
        return _raise_request(
            Request.objects.create(
                kind=RequestKind.CLOSE,
                branch=locked.branch,
                session=locked,
                amount=count.total or None,
                subject_id=count.pk,
                requested_by=agent,
            )
        )

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="till_count",
            payload={
                "agent": agent.pk,
                "session": session.pk,
                "counts": {str(k): v for k, v in sorted(counts.items())},
            },
            work=work,
            load=lambda pk: Request.objects.get(pk=pk),
        )
