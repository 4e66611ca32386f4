from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.models import Branch
from agents.permissions import Action, get_scoped_or_404, require, visible_branches


@require(Action.WATCH)
def home(request: HttpRequest) -> HttpResponse:
    """The supervisor's dashboard: the branches of their scope."""
    branches = visible_branches(request.user).prefetch_related("counters")
    return render(request, "dashboard/home.html", {"branches": branches})


@require(Action.WATCH)
def branch_detail(request: HttpRequest, code: str) -> HttpResponse:
    branch = get_scoped_or_404(
        request.user,
        Branch.objects.select_related("governorate").prefetch_related("counters"),
        branch_path="",
        code=code,
    )
    return render(request, "dashboard/branch.html", {"branch": branch})
