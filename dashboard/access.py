"""Which board a person may watch: the same permission helper as the views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.models import Branch, Governorate
from agents.permissions import Action, can, can_see_branch, can_see_governorate, scope_of
from dashboard.groups import NATION, branch_group, governorate_group

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def board_group(user: User | AnonymousUser, kind: str, ident: str | None) -> str | None:
    """The group `user` may join for board (kind, ident), or None when out of scope."""
    if not can(user, Action.WATCH):
        return None
    if kind == "nation":
        return NATION if scope_of(user).is_national else None
    if kind == "governorate":
        governorate = Governorate.objects.filter(code=ident, abroad=False).first()
        if governorate is None or not can_see_governorate(user, governorate):
            return None
        return governorate_group(governorate.pk)
    if kind == "branch":
        branch = Branch.objects.filter(code=ident).first()
        if branch is None or not can_see_branch(user, branch):
            return None
        return branch_group(branch.pk)
    return None
