"""The branch vault and the bank: cash in and out, posted only when the witness confirms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agents.models import Branch
from agents.permissions import Action, can
from audit import log as audit_log
from core.errors import InvalidState, NotAllowed
from core.retry import retry_on_conflict
from float_management.idempotency import run_once
from float_management.ledger import (
    check_amount,
    transfer_post,
    transit_account,
    vault_account,
)
from float_management.models import TransferKind, VaultMovement

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@retry_on_conflict
def vault_move(
    *,
    branch: Branch,
    direction: str,
    amount: int,
    handled_by: User,
    witnessed_by: User | None,
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
def vault_move_confirm(*, witness: User, movement: VaultMovement) -> VaultMovement:
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
def vault_move_cancel(*, user: User, movement: VaultMovement) -> VaultMovement:
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


def _check_witness(witness: User, movement: VaultMovement) -> None:
    if witness.pk != movement.witnessed_by_id:
        raise NotAllowed(_("Only the witness named on this movement confirms it."))
    if not (
        witness.is_active
        and hasattr(witness, "profile")
        and witness.profile.branch_id == movement.branch_id
    ):
        raise NotAllowed(_("The witness must work at this branch."))
