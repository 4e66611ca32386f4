"""The approval queue (four eyes): a supervisor decides what an agent asked for.

Other apps register what approving their kinds of request does (counter: voids, card
moves) in APPROVAL_HANDLERS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from agents.permissions import Action, can
from audit import log as audit_log
from core.errors import InvalidState, NotAllowed
from core.retry import retry_on_conflict
from float_management import signals
from float_management.idempotency import run_once
from float_management.ledger import over_short_account, transfer_post, vault_account
from float_management.models import (
    CashCount,
    Decision,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    Transfer,
    TransferKind,
)
from float_management.services.till import _on_commit_session, _record_count

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# Other apps register what approving their kinds of request does (e.g. counter: voids).
APPROVAL_HANDLERS: dict[str, Callable[..., object]] = {}
REJECTION_HANDLERS: dict[str, Callable[..., object]] = {}


def _approve_float_issue(request: Request, supervisor: User, **_kwargs: object) -> Transfer:
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


def _approve_close(
    request: Request, supervisor: User, *, recount: Mapping[int, int] | None = None
) -> Transfer | None:
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


def _reject_opening(request: Request, supervisor: User, **_kwargs: object) -> None:
    session = request.session
    session.reject_opening()
    _on_commit_session(session)


def _reject_close(request: Request, supervisor: User, **_kwargs: object) -> None:
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
    supervisor: User,
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
