from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.models import Branch
from agents.permissions import Action, require, scope_of
from counter.views.citizens import citizen_from_token, citizen_link_gone
from float_management.selectors import session_active_for, till_state


@require(Action.OPERATE_COUNTER)
def home(request: HttpRequest) -> HttpResponse:
    """The counter screen: find the citizen, then the service."""
    branch = Branch.objects.select_related("governorate").get(pk=scope_of(request.user).branch_id)
    session = session_active_for(request.user)
    state = None
    if session is not None and session.is_open:
        state = till_state(balance=session.account.balance, limit=branch.till_cash_limit)
    # The citizen being served comes by the token of their search, never by an id.
    token = request.GET.get("citizen", "").strip()
    citizen = citizen_from_token(request, token) if token else None
    if token and citizen is None:
        return citizen_link_gone(request)
    return render(
        request,
        "counter/home.html",
        {"branch": branch, "session": session, "till_state": state, "citizen": citizen},
    )
