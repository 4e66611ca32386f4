"""Supervisors' dashboards: branch, governorate, nation. Live over websockets; every
figure comes from the selectors, so a reload shows what the live page shows."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from agents.models import Branch, Governorate, Role
from agents.permissions import Action, can, get_scoped_or_404, require, scope_of
from dashboard import selectors
from dashboard.access import board_group
from float_management.models import Request
from float_management.views import decide_from_post


@require_GET
@require(Action.WATCH)
def home(request: HttpRequest) -> HttpResponse:
    """Each supervisor's own board."""
    scope = scope_of(request.user)
    if scope.role == Role.BRANCH_SUPERVISOR:
        return redirect("dashboard:branch", code=Branch.objects.get(pk=scope.branch_id).code)
    if scope.role == Role.REGIONAL_SUPERVISOR:
        code = Governorate.objects.get(pk=scope.governorate_id).code
        return redirect("dashboard:governorate", code=code)
    return redirect("dashboard:nation")


def _board_response(request: HttpRequest, page: str, fragment: str, context: dict) -> HttpResponse:
    context = {
        **context,
        "can_approve": can(request.user, Action.APPROVE),
        "can_audit": can(request.user, Action.AUDIT),
    }
    if request.htmx or request.GET.get("fragment") == "1":
        return render(request, fragment, context)
    return render(request, page, context)


@require_GET
@require(Action.WATCH)
def branch_detail(request: HttpRequest, code: str) -> HttpResponse:
    branch = get_scoped_or_404(
        request.user, Branch.objects.select_related("governorate"), branch_path="", code=code
    )
    context = {"branch": branch, "board": selectors.branch_board(branch)}
    return _board_response(
        request, "dashboard/branch.html", "dashboard/_branch_board.html", context
    )


@require_GET
@require(Action.WATCH)
def governorate_detail(request: HttpRequest, code: str) -> HttpResponse:
    if board_group(request.user, "governorate", code) is None:
        raise Http404
    governorate = Governorate.objects.get(code=code)
    context = {"governorate": governorate, "board": selectors.governorate_board(governorate)}
    return _board_response(
        request, "dashboard/governorate.html", "dashboard/_governorate_board.html", context
    )


@require_GET
@require(Action.WATCH)
def nation(request: HttpRequest) -> HttpResponse:
    if board_group(request.user, "nation", None) is None:
        raise Http404
    context = {"board": selectors.nation_board()}
    return _board_response(
        request, "dashboard/nation.html", "dashboard/_nation_board.html", context
    )


@require_POST
@require(Action.APPROVE)
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject from the branch board, through the same service as everywhere."""
    pending = get_scoped_or_404(
        request.user, Request.objects.select_related("branch__governorate", "session"), pk=pk
    )
    decide_from_post(request, pending)
    branch = pending.branch
    if request.htmx:
        context = {
            "branch": branch,
            "board": selectors.branch_board(branch),
            "can_approve": True,
        }
        return render(request, "dashboard/_branch_board.html", context)
    return redirect("dashboard:branch", code=branch.code)
