"""Listen to the domain signals (sent after commit) and mark dashboards dirty."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from agencies import signals as agency_signals
from agents.models import Branch
from audit.models import AuditEntry
from counter import signals as counter_signals
from counter.models import Payment
from dashboard import live
from dashboard.groups import NATION, branch_group, governorate_group, groups_for_branch
from dashboard.selectors import INTEGRITY_AUDIT_ACTIONS
from float_management import signals

if TYPE_CHECKING:
    from agencies.models import Notification
    from counter.models import Citizen, PrepaidCard
    from float_management.models import Request, TillSession, Transfer


@lru_cache(maxsize=8192)
def _governorate_of(branch_id: int) -> int:
    # A branch never moves governorate; cached so a payment costs no extra query here.
    return Branch.objects.values_list("governorate_id", flat=True).get(pk=branch_id)


def _touch(branch_id: int | None) -> None:
    if not getattr(settings, "DASHBOARD_PUSHES", True):
        return
    if branch_id is None:
        live.publish(NATION)
    else:
        live.publish(*groups_for_branch(branch_id, _governorate_of(branch_id)))


@receiver(signals.transfer_posted)
def on_transfer(sender: type[Transfer], transfer: Transfer, **kwargs: Any) -> None:
    _touch(transfer.branch_id)


@receiver(signals.session_changed)
def on_session(sender: type[TillSession], session: TillSession, **kwargs: Any) -> None:
    _touch(session.branch_id)


@receiver(signals.request_raised)
@receiver(signals.request_decided)
def on_request(sender: type[Request], request: Request, **kwargs: Any) -> None:
    _touch(request.branch_id)


def _touch_local(*branch_ids: int | None) -> None:
    """Push the boards of these branches and their governorates (not the nation's)."""
    if not getattr(settings, "DASHBOARD_PUSHES", True):
        return
    groups: list[str] = []
    for branch_id in dict.fromkeys(b for b in branch_ids if b is not None):
        groups += [branch_group(branch_id), governorate_group(_governorate_of(branch_id))]
    if groups:
        live.publish(*dict.fromkeys(groups))


@receiver(counter_signals.card_locked)
def on_card_locked(sender: type[PrepaidCard], card: PrepaidCard, **kwargs: Any) -> None:
    """The branch board counts today's locked cards by the branch that issued them."""
    _touch_local(card.issued_branch_id, card.locked_branch_id)


@receiver(counter_signals.card_unlocked)
def on_card_unlocked(
    sender: type[PrepaidCard], card: PrepaidCard, branch_id: int, **kwargs: Any
) -> None:
    _touch_local(card.issued_branch_id, branch_id)


@receiver(counter_signals.citizen_registered)
def on_citizen_registered(sender: type[Citizen], citizen: Citizen, **kwargs: Any) -> None:
    _touch_local(citizen.registered_branch_id)


@receiver(agency_signals.notification_changed)
def on_notification_changed(
    sender: type[Notification],
    notification: Notification,
    branch_id: int | None = None,
    **kwargs: Any,
) -> None:
    """The outbox moved (sent after commit): the boards' agency figures of its payment's branch.

    Every board counts agencies' notifications: the branch's, its governorate's, the nation's.
    """
    if not getattr(settings, "DASHBOARD_PUSHES", True):
        return
    if branch_id is None:
        branch_id = Payment.objects.values_list("branch_id", flat=True).get(
            pk=notification.payment_id
        )
    _touch(branch_id)


@receiver(post_save, sender=AuditEntry)
def on_audited(
    sender: type[AuditEntry], instance: AuditEntry, created: bool, **kwargs: Any
) -> None:
    """Card replacements, unlocks and citizen reads move the boards' integrity alerts.

    They send no domain signal; the audit entry is written in their transaction, so
    the push waits for its commit. Only the branch and its governorate show these.
    """
    branch_id = instance.branch_id
    if not created or branch_id is None or instance.action not in INTEGRITY_AUDIT_ACTIONS:
        return
    if not getattr(settings, "DASHBOARD_PUSHES", True):
        return
    transaction.on_commit(
        lambda: live.publish(branch_group(branch_id), governorate_group(_governorate_of(branch_id)))
    )
