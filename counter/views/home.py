from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.models import Branch
from agents.permissions import Action, require, scope_of


@require(Action.OPERATE_COUNTER)
def home(request: HttpRequest) -> HttpResponse:
    """The agent's counter screen."""
    branch = Branch.objects.select_related("governorate").get(pk=scope_of(request.user).branch_id)
    return render(request, "counter/home.html", {"branch": branch})
