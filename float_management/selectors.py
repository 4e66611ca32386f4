"""Reads of the till's day shared by views and dashboards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from agents.models import Branch
from float_management.models import (
    ACTIVE_STATUSES,
    Account,
    AccountKind,
    Request,
    TillSession,
    VaultMovement,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


WARNING_PERCENT = 80  # of the branch's till limit


def till_state(*, balance: int, limit: int) -> str:
    """ "normal", "warning" (from 80% of the limit) or "over" (above it)."""
    if balance > limit:
        return "over"
    if balance * 100 >= limit * WARNING_PERCENT:
        return "warning"
    return "normal"


def session_active_for(agent: User) -> TillSession | None:
    return (
        TillSession.objects.select_related("account", "counter", "branch")
        .filter(agent=agent, status__in=ACTIVE_STATUSES)
        .first()
    )


def till_status_for(agent: User) -> str | None:
    """The status of the agent's open or closing till, or None: one column, nothing joined."""
    return (
        TillSession.objects.filter(agent=agent, status__in=ACTIVE_STATUSES)
        .values_list("status", flat=True)
        .first()
    )


def session_latest_for(agent: User) -> TillSession | None:
    return (
        TillSession.objects.select_related("account", "counter", "branch")
        .filter(agent=agent)
        .order_by("-requested_at", "-pk")
        .first()
    )


def requests_of_session(session: TillSession) -> QuerySet[Request]:
    return session.requests.select_related("decision", "decision__decided_by").order_by(
        "-requested_at", "-pk"
    )


def requests_pending(branch: Branch) -> QuerySet[Request]:
    return (
        Request.objects.filter(branch=branch, decision__isnull=True)
        .select_related("session__agent", "session__counter", "session__account", "requested_by")
        .order_by("requested_at", "pk")
    )


def sessions_of_branch(branch: Branch) -> QuerySet[TillSession]:
    """Sessions still active, then the latest closed ones."""
    return (
        TillSession.objects.filter(branch=branch)
        .select_related("agent", "counter", "account")
        .order_by("-requested_at", "-pk")[:50]
    )


def vault_balance(branch: Branch) -> int:
    """What the branch vault holds: 0 before its first movement (a read makes no account)."""
    balance = (
        Account.objects.filter(kind=AccountKind.VAULT, branch=branch)
        .values_list("balance", flat=True)
        .first()
    )
    return balance or 0


def is_active(session: TillSession | None) -> bool:
    return session is not None and session.status in ACTIVE_STATUSES


def vault_movements_to_confirm(user: User) -> list[VaultMovement]:
    """Vault movements naming `user` as witness that wait for their confirmation."""
    return list(
        VaultMovement.objects.filter(
            witnessed_by=user, confirmed_at__isnull=True, cancelled_at__isnull=True
        )
        .select_related("handled_by")
        .order_by("created_at", "pk")
    )


def vault_movements_pending(branch: Branch) -> list[VaultMovement]:
    """The branch's vault movements recorded but not yet confirmed by their witness."""
    return list(
        VaultMovement.objects.filter(
            branch=branch, confirmed_at__isnull=True, cancelled_at__isnull=True
        )
        .select_related("handled_by", "witnessed_by")
        .order_by("created_at", "pk")
    )
