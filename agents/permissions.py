"""The one place that decides what a person may see and do.

Every view, and every websocket consumer, asks here. Objects outside a
person's scope are reported as missing (404), never as forbidden, so their
existence does not leak; a page meant for another role is forbidden (403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from agents.models import Branch, Governorate, Role

M = TypeVar("M", bound=Model)


class Action:
    """What a person may want to do; the roles allowed are in _ALLOWED."""

    VIEW = "view"  # see figures, lists, reports of the scope
    WATCH = "watch"  # the supervisors' dashboards (read-only for auditors)
    OPERATE_COUNTER = "operate_counter"  # take payments, open a till, request, drop, close
    APPROVE = "approve"  # approve or reject requests of a branch (four eyes)
    MANAGE_VAULT = "manage_vault"  # receive cash from / send cash to the bank
    SETTLE = "settle"  # settle money to the agencies
    SEE_NATIONAL_ID = "see_national_id"  # unmasked: the agent checking the ID card, auditors
    UNLOCK_CARD = "unlock_card"  # unlock a prepaid card after wrong PINs
    AUDIT = "audit"  # read the audit log (read-only for everyone)


_ALLOWED: dict[str, set[str]] = {
    Action.VIEW: {r.value for r in Role},
    Action.WATCH: {
        Role.BRANCH_SUPERVISOR,
        Role.REGIONAL_SUPERVISOR,
        Role.HEAD_OFFICE,
        Role.AUDITOR,
    },
    Action.OPERATE_COUNTER: {Role.AGENT},
    Action.APPROVE: {Role.BRANCH_SUPERVISOR},
    Action.MANAGE_VAULT: {Role.BRANCH_SUPERVISOR},
    Action.SETTLE: {Role.HEAD_OFFICE},
    Action.SEE_NATIONAL_ID: {Role.AGENT, Role.AUDITOR},
    Action.UNLOCK_CARD: {Role.BRANCH_SUPERVISOR},
    Action.AUDIT: {Role.HEAD_OFFICE, Role.AUDITOR},
}


@dataclass(frozen=True)
class Scope:
    role: str | None
    branch_id: int | None = None
    governorate_id: int | None = None

    @property
    def is_national(self) -> bool:
        return self.role in (Role.HEAD_OFFICE, Role.AUDITOR)


NO_SCOPE = Scope(role=None)


def scope_of(user: Any) -> Scope:
    """The user's role and scope; NO_SCOPE for anonymous users and users without a profile."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_SCOPE
    cached = getattr(user, "_counter_scope", None)
    if cached is not None:
        return cached
    # RelatedObjectDoesNotExist is an AttributeError: no profile, no scope.
    profile = getattr(user, "profile", None)
    scope = (
        NO_SCOPE
        if profile is None
        else Scope(
            role=profile.role,
            branch_id=profile.branch_id,
            governorate_id=profile.governorate_id,
        )
    )
    user._counter_scope = scope
    return scope


def branch_filter(scope: Scope, branch_path: str = "branch") -> Q:
    """A filter for rows whose branch (reached through `branch_path`) is in scope."""
    prefix = "" if branch_path == "" else f"{branch_path}__"
    if scope.is_national:
        return Q()
    if scope.role in (Role.AGENT, Role.BRANCH_SUPERVISOR):
        return Q(**{f"{prefix}id": scope.branch_id})
    if scope.role == Role.REGIONAL_SUPERVISOR:
        return Q(**{f"{prefix}governorate_id": scope.governorate_id})
    return Q(pk__in=[])


def scoped(user: Any, queryset: QuerySet[M], branch_path: str = "branch") -> QuerySet[M]:
    """Narrow `queryset` to the rows the user may see."""
    scope = scope_of(user)
    if scope.role is None:
        return queryset.none()
    return queryset.filter(branch_filter(scope, branch_path))


def visible_branches(user: Any) -> QuerySet[Branch]:
    return scoped(user, Branch.objects.select_related("governorate"), branch_path="")


def can_see_branch(user: Any, branch: Branch) -> bool:
    scope = scope_of(user)
    if scope.role is None:
        return False
    if scope.is_national:
        return True
    if scope.role == Role.REGIONAL_SUPERVISOR:
        return branch.governorate_id == scope.governorate_id
    return branch.pk == scope.branch_id


def can_see_governorate(user: Any, governorate: Governorate) -> bool:
    """Head office and auditors see every governorate, a regional supervisor their own."""
    scope = scope_of(user)
    return scope.is_national or (
        scope.role == Role.REGIONAL_SUPERVISOR and scope.governorate_id == governorate.pk
    )


def scoped_governorates(user: Any, queryset: QuerySet[Governorate]) -> QuerySet[Governorate]:
    """Narrow `queryset` to the governorates the user may see."""
    scope = scope_of(user)
    if scope.is_national:
        return queryset
    if scope.role == Role.REGIONAL_SUPERVISOR:
        return queryset.filter(pk=scope.governorate_id)
    return queryset.none()


def own_rows_for_agents(user: Any, queryset: QuerySet[M], owner_path: str = "agent") -> QuerySet[M]:
    """An agent sees only their own rows (a colleague's session is not theirs to read)."""
    if scope_of(user).role == Role.AGENT:
        return queryset.filter(**{owner_path: user})
    return queryset


def can(user: Any, action: str, branch: Branch | None = None) -> bool:
    """May the user do `action` (on `branch`, when given)?"""
    scope = scope_of(user)
    if scope.role not in _ALLOWED[action]:
        return False
    return branch is None or can_see_branch(user, branch)


def get_scoped_or_404(
    user: Any, queryset: QuerySet[M], branch_path: str = "branch", **lookup: Any
) -> M:
    """The object matching `lookup`, or 404 if it does not exist *or* is out of scope."""
    try:
        return scoped(user, queryset, branch_path).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None


def require(action: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: logged in, and of a role allowed to do `action` (else 403)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not can(request.user, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


def national_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Head office and auditors (the nation's figures); anyone else is refused (403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not scope_of(request.user).is_national:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def regional_or_national(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A governorate's pages: regional supervisors, head office and auditors (else 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scope = scope_of(request.user)
        if not (scope.is_national or scope.role == Role.REGIONAL_SUPERVISOR):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)
