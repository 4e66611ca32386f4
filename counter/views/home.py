from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.digits import normalize_digits
from agents.models import Branch
from agents.permissions import Action, require, scope_of
from counter.models import Citizen
from float_management.selectors import session_active_for
from float_management.services import till_state


@require(Action.OPERATE_COUNTER)
def home(request: HttpRequest) -> HttpResponse:
    """The counter screen: find the citizen, then the service."""
    branch = Branch.objects.select_related("governorate").get(pk=scope_of(request.user).branch_id)
    session = session_active_for(request.user)
    state = None
    if session is not None and session.is_open:
        state = till_state(balance=session.account.balance, limit=branch.till_cash_limit)
    raw = normalize_digits(request.GET.get("citizen", ""))
    # ASCII digits only: str.isdigit() also takes "²", which the query refuses.
    is_id = raw.isascii() and raw.isdigit() and len(raw) <= 18
    citizen = Citizen.objects.filter(pk=int(raw)).first() if is_id else None
    return render(
        request,
        "counter/home.html",
        {"branch": branch, "session": session, "till_state": state, "citizen": citizen},
    )
