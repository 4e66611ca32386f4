"""Every write of the till's day and the branch vault.

Each public function is one transaction (retried on deadlock), takes plain
keyword arguments, and raises a DomainError whose message a person can read.
Money-moving functions take an idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agents.models import Branch, Counter
from agents.permissions import Action, can
from audit import log as audit_log
from core.errors import InvalidState, NotAllowed, TillOverLimit
from core.retry import retry_on_conflict
from float_management import signals
from float_management.idempotency import run_once
from float_management.ledger import (
    account_for,
    check_amount,
    over_short_account,
    transfer_post,
    transit_account,
    vault_account,
)
from float_management.models import (
    ACTIVE_STATUSES,
    AccountKind,
    CashCount,
    CashCountLine,
    Decision,
    Denomination,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    Transfer,
    TransferKind,
    VaultMovement,
)

WARNING_PERCENT = 80  # of the branch's till limit


def _on_commit_session(session: TillSession) -> None:
    transaction.on_commit(
        lambda: signals.session_changed.send_robust(sender=TillSession, session=session)
    )


def _raise_request(request: Request) -> Request:
    transaction.on_commit(
        lambda: signals.request_raised.send_robust(sender=Request, request=request)
    )
    return request


# --- Till limit -----------------------------------------------------------------


def till_state(*, balance: int, limit: int) -> str:
    """ "normal", "warning" (from 80% of the limit) or "over" (above it)."""
    if balance > limit:
        return "over"
    if balance * 100 >= limit * WARNING_PERCENT:
        return "warning"
    return "normal"


def ensure_cash_intake_allowed(session: TillSession) -> None:
    """Refuse new cash into a till that holds more than its branch's limit."""
    limit = session.branch.till_cash_limit
    if session.account.balance > limit:
        raise TillOverLimit(
            _("The till holds more than its limit. Make a cash drop to the vault first.")
        )


def till_session_open_locked(agent) -> TillSession:
    """The agent's open session, locked for this transaction (their postings queue on it)."""
    if not can(agent, Action.OPERATE_COUNTER):
        raise NotAllowed(_("Only counter agents work at a till."))
    session = (
        TillSession.objects.select_for_update(of=("self",))
        .select_related("account", "branch")
        .filter(agent=agent, status=SessionStatus.OPEN)
        .first()
    )
    if session is None:
        raise InvalidState(_("Open your till before taking payments."))
    return session


def ensure_session_open(session: TillSession, agent) -> None:
    if session.agent_id != agent.pk:
        raise NotAllowed(_("This is not your till session."))
    if session.status != SessionStatus.OPEN:
        raise InvalidState(_("The till session is not open."))


# --- Vault and bank ---------------------------------------------------------------


@retry_on_conflict
def vault_move(
    *,
    branch: Branch,
    direction: str,
    amount: int,
    handled_by,
    witnessed_by,
    idempotency_key: str,
) -> VaultMovement:
    """Record cash from the bank into the vault ("in") or back to the bank ("out").

    Two people: nothing is posted until the named witness confirms with their own
    login (vault_move_confirm); the supervisor alone cannot send vault cash away.
    """
    check_amount(amount)
    if not can(handled_by, Action.MANAGE_VAULT, branch):
        raise NotAllowed(_("Only a supervisor of this branch handles its vault."))
    if witnessed_by is None or witnessed_by.pk == handled_by.pk:
        raise NotAllowed(_("A second person must witness cash to or from the bank."))
    if not (hasattr(witnessed_by, "profile") and witnessed_by.profile.branch_id == branch.pk):
        raise NotAllowed(_("The witness must work at this branch."))
    if direction not in VaultMovement.Direction.values:
        raise InvalidState(_("Unknown direction."))

    def work() -> VaultMovement:
        movement = VaultMovement.objects.create(
            branch=branch,
            direction=direction,
            amount=amount,
            handled_by=handled_by,
            witnessed_by=witnessed_by,
        )
        audit_log.append(
            stream=audit_log.branch_stream(branch),
            action="vault.move_recorded",
            actor=handled_by,
            object_type="vault_movement",
            object_id=movement.pk,
            branch=branch,
            data={"direction": direction, "amount": amount, "witness": witnessed_by.pk},
        )
        return movement

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="vault_move",
            payload={
                "branch": branch.pk,
                "direction": direction,
                "amount": amount,
                "by": handled_by.pk,
                "witness": witnessed_by.pk,
            },
            work=work,
            load=lambda pk: VaultMovement.objects.get(pk=pk),
        )


@retry_on_conflict
def vault_move_confirm(*, witness, movement: VaultMovement) -> VaultMovement:
    """The named witness confirms, with their own login, that the cash moved: now it posts."""
    with transaction.atomic():
        locked = (
            VaultMovement.objects.select_for_update(of=("self",))
            .select_related("branch")
            .get(pk=movement.pk)
        )
        _check_witness(witness, locked)
        if locked.confirmed_at is not None:
            return locked  # confirmed twice (a double click): once is enough
        if locked.cancelled_at is not None:
            raise InvalidState(_("This vault movement was cancelled."))
        vault, transit = vault_account(locked.branch), transit_account(locked.branch)
        sign = 1 if locked.direction == VaultMovement.Direction.IN else -1
        locked.transfer = transfer_post(
            kind=TransferKind.BANK_IN if sign > 0 else TransferKind.BANK_OUT,
            legs=[(vault, sign * locked.amount), (transit, -sign * locked.amount)],
            created_by=witness,
            branch=locked.branch,
            memo=f"vault movement {locked.pk}",
        )
        locked.confirmed_at = timezone.now()
        locked.save(update_fields=["transfer", "confirmed_at"])
        return locked


@transaction.atomic
def vault_move_cancel(*, user, movement: VaultMovement) -> VaultMovement:
    """The supervisor withdraws, or the witness declines, a movement not yet confirmed."""
    locked = (
        VaultMovement.objects.select_for_update(of=("self",))
        .select_related("branch")
        .get(pk=movement.pk)
    )
    if user.pk not in (locked.handled_by_id, locked.witnessed_by_id):
        raise NotAllowed(_("Only the two people named on a vault movement can cancel it."))
    if locked.confirmed_at is not None:
        raise InvalidState(_("This vault movement is already posted."))
    if locked.cancelled_at is None:
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["cancelled_at"])
        audit_log.append(
            stream=audit_log.branch_stream(locked.branch),
            action="vault.move_cancelled",
            actor=user,
            object_type="vault_movement",
            object_id=locked.pk,
            branch=locked.branch,
            data={"direction": locked.direction, "amount": locked.amount},
        )
    return locked


def _check_witness(witness, movement: VaultMovement) -> None:
    if witness.pk != movement.witnessed_by_id:
        raise NotAllowed(_("Only the witness named on this movement confirms it."))
    if not (
        witness.is_active
        and hasattr(witness, "profile")
        and witness.profile.branch_id == movement.branch_id
    ):
        raise NotAllowed(_("The witness must work at this branch."))


# --- Opening a till ----------------------------------------------------------------


@retry_on_conflict
def till_session_request_open(
    *, agent, counter: Counter, amount: int, idempotency_key: str
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
    *, agent, session: TillSession, amount: int, idempotency_key: str
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
def cash_drop(*, agent, session: TillSession, amount: int, idempotency_key: str):
    """Move cash from the agent's till to the branch vault."""
    check_amount(amount)

    def work():
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


def _record_count(session: TillSession, counted_by, counts: Mapping[int, int]) -> CashCount:
    total, lines = _count_total(counts)
    count = CashCount.objects.create(session=session, counted_by=counted_by, total=total)
    CashCountLine.objects.bulk_create(
        [CashCountLine(count=count, denomination=d, quantity=q) for d, q in lines]
    )
    return count


@retry_on_conflict
def till_session_submit_count(
    *, agent, session: TillSession, counts: Mapping[int, int], idempotency_key: str
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


# --- Decisions (four eyes) ------------------------------------------------------------------

# Other apps register what approving their kinds of request does (e.g. counter: voids).
APPROVAL_HANDLERS: dict[str, Callable[..., object]] = {}
REJECTION_HANDLERS: dict[str, Callable[..., object]] = {}


def _approve_float_issue(request: Request, supervisor, **_kwargs):
    session = request.session
    if request.kind == RequestKind.OPENING_FLOAT and session.status != SessionStatus.REQUESTED:
        raise InvalidState(_("This session is no longer waiting for its opening float."))
    if request.kind == RequestKind.TOP_UP_FLOAT and session.status != SessionStatus.OPEN:
        raise InvalidState(_("The till session is not open."))
    transfer = transfer_post(
        kind=TransferKind.FLOAT_ISSUE,
        legs=[(session.account, request.amount), (vault_account(session.branch), -request.amount)],
        created_by=supervisor,
        branch=session.branch,
        memo=str(request),
        session=session,
    )
    if session.status == SessionStatus.REQUESTED:
        session.open()
    _on_commit_session(session)
    return transfer


def _approve_close(request: Request, supervisor, *, recount: Mapping[int, int] | None = None):
    session = request.session
    if session.status != SessionStatus.CLOSING:
        raise InvalidState(_("This session is not waiting for a close sign-off."))
    count = CashCount.objects.get(pk=request.subject_id)
    if recount is not None:
        count = _record_count(session, supervisor, recount)
    till = session.account
    till.refresh_from_db(fields=["balance"])
    expected = till.balance
    variance = count.total - expected
    if variance:
        # Over: the extra cash is the branch's gain; short: the branch bears the loss.
        transfer_post(
            kind=TransferKind.CLOSE_VARIANCE,
            legs=[(till, variance), (over_short_account(session.branch), -variance)],
            created_by=supervisor,
            branch=session.branch,
            memo=str(session),
            session=session,
        )
    transfer = None
    if count.total:
        transfer = transfer_post(
            kind=TransferKind.CLOSE_RETURN,
            legs=[(vault_account(session.branch), count.total), (till, -count.total)],
            created_by=supervisor,
            branch=session.branch,
            memo=str(session),
            session=session,
        )
    session.close(counted=count.total, expected=expected, variance=variance)
    _on_commit_session(session)
    return transfer


def _reject_opening(request: Request, supervisor, **_kwargs):
    session = request.session
    session.reject_opening()
    _on_commit_session(session)


def _reject_close(request: Request, supervisor, **_kwargs):
    session = request.session
    session.reopen()  # the agent counts again
    _on_commit_session(session)


APPROVAL_HANDLERS.update(
    {
        RequestKind.OPENING_FLOAT: _approve_float_issue,
        RequestKind.TOP_UP_FLOAT: _approve_float_issue,
        RequestKind.CLOSE: _approve_close,
    }
)
REJECTION_HANDLERS.update(
    {RequestKind.OPENING_FLOAT: _reject_opening, RequestKind.CLOSE: _reject_close}
)


@retry_on_conflict
def request_decide(
    *,
    request: Request,
    supervisor,
    approve: bool,
    reason: str = "",
    recount: Mapping[int, int] | None = None,
) -> Decision:
    """Approve or reject a request. Deciding twice the same way returns the first decision."""
    if not can(supervisor, Action.APPROVE, request.branch):
        raise NotAllowed(_("Only a supervisor of this branch can decide its requests."))
    if supervisor.pk == request.requested_by_id:
        raise NotAllowed(_("You cannot decide your own request."))
    reason = reason.strip()
    if not approve and not reason:
        raise InvalidState(_("Give a reason for the rejection."))

    def work() -> Decision:
        locked = (
            Request.objects.select_for_update(of=("self",))
            .select_related("session__account", "session__branch")
            .get(pk=request.pk)
        )
        # Lock the session too: a decision and the agent's own actions are serialised.
        TillSession.objects.select_for_update().filter(pk=locked.session_id).first()
        transfer = None
        if approve:
            transfer = APPROVAL_HANDLERS[locked.kind](locked, supervisor, recount=recount)
        elif locked.kind in REJECTION_HANDLERS:
            REJECTION_HANDLERS[locked.kind](locked, supervisor)
        decision = Decision.objects.create(
            request=locked,
            approved=approve,
            reason=reason[:200],
            requested_by_id=locked.requested_by_id,
            decided_by=supervisor,
            transfer=transfer if isinstance(transfer, Transfer) else None,
        )
        audit_log.append(
            stream=audit_log.till_stream(locked.session_id),
            action="request.approved" if approve else "request.rejected",
            actor=supervisor,
            object_type="request",
            object_id=locked.pk,
            branch=locked.branch_id,
            data={
                "kind": locked.kind,
                "amount": locked.amount,
                "requested_by": locked.requested_by_id,
                "subject": locked.subject_id,
                "reason": decision.reason,
                "transfer": decision.transfer_id,
            },
        )
        transaction.on_commit(
            lambda: signals.request_decided.send_robust(
                sender=Request, request=locked, decision=decision
            )
        )
        return decision

    with transaction.atomic():
        existing = Decision.objects.filter(request_id=request.pk).first()
        if existing is not None:
            if existing.approved == approve:
                return existing
            raise InvalidState(_("This request has already been decided."))
        return run_once(
            key=f"decide:{request.pk}",
            scope="decision",
            action="decide",
            payload={"request": request.pk, "approve": approve},
            work=work,
            load=lambda pk: Decision.objects.get(pk=pk),
        )
