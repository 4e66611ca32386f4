"""The agent's till screens and the supervisor's branch cash screen.

Each action is one small form: with htmx it swaps the panel in place, without
JavaScript it redirects back to the page (post / redirect / get).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.models import Branch
from agents.permissions import Action, can, get_scoped_or_404, require, scope_of
from core.errors import DomainError
from float_management import selectors, services
from float_management.forms import (
    AmountForm,
    CountForm,
    DecideForm,
    OpenSessionForm,
    VaultMoveForm,
)
from float_management.models import Request, SessionStatus, VaultMovement

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

    from float_management.models import TillSession


def _branch_of(user: User) -> Branch:
    return Branch.objects.select_related("governorate").get(pk=scope_of(user).branch_id)


# --- Agent -------------------------------------------------------------------


def _session_context(request: HttpRequest, **forms: Form) -> dict:
    branch = _branch_of(request.user)
    session = selectors.session_active_for(request.user)
    latest = session or selectors.session_latest_for(request.user)
    till_state = None
    if session is not None and session.status == SessionStatus.OPEN:
        till_state = selectors.till_state(
            balance=session.account.balance, limit=branch.till_cash_limit
        )
    open_form = forms.get("open_form")
    if open_form is None:
        open_form = OpenSessionForm(branch=branch)
        if session is None:  # the form is shown: start it at the agent's counter
            open_form.preselect(latest.counter if latest else None)
    return {
        "branch": branch,
        "session": session,
        "latest": latest,
        "till_state": till_state,
        "requests": selectors.requests_of_session(latest)[:20] if latest else [],
        "open_form": open_form,
        "top_up_form": forms.get("top_up_form") or AmountForm(prefix="top_up"),
        "drop_form": forms.get("drop_form") or AmountForm(prefix="drop"),
        "vault_to_confirm": selectors.vault_movements_to_confirm(request.user),
    }


def _session_response(request: HttpRequest, **forms: Form) -> HttpResponse:
    template = "float_management/session.html"
    if request.htmx:
        template += "#panel"
    return render(request, template, _session_context(request, **forms))


@require_GET
@require(Action.OPERATE_COUNTER)
def session_home(request: HttpRequest) -> HttpResponse:
    return _session_response(request)


def _done(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:
        return _session_response(request)
    return redirect("float:session")


@require_POST
@require(Action.OPERATE_COUNTER)
def session_open(request: HttpRequest) -> HttpResponse:
    form = OpenSessionForm(request.POST, branch=_branch_of(request.user))
    if form.is_valid():
        try:
            services.till_session_request_open(
                agent=request.user,
                counter=form.cleaned_data["counter"],
                amount=form.cleaned_data["amount"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
            return _done(request, _("Opening float requested. A supervisor will approve it."))
        except DomainError as error:
            form.add_error(None, str(error))
    return _session_response(request, open_form=form)


def _active_open_session(request: HttpRequest) -> TillSession:
    session = selectors.session_active_for(request.user)
    if session is None:
        raise DomainError(_("You have no open till session."))
    return session


def _session_amount_action(
    request: HttpRequest, prefix: str, service: Callable[..., object], done: str
) -> HttpResponse:
    """A till action that takes one amount: top-up request or cash drop."""
    form = AmountForm(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            service(
                agent=request.user,
                session=_active_open_session(request),
                amount=form.cleaned_data["amount"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
            return _done(request, done)
        except DomainError as error:
            form.add_error(None, str(error))
    return _session_response(request, **{f"{prefix}_form": form})


@require_POST
@require(Action.OPERATE_COUNTER)
def session_top_up(request: HttpRequest) -> HttpResponse:
    return _session_amount_action(
        request, "top_up", services.float_request_top_up, _("Float top-up requested.")
    )


@require_POST
@require(Action.OPERATE_COUNTER)
def session_drop(request: HttpRequest) -> HttpResponse:
    return _session_amount_action(
        request, "drop", services.cash_drop, _("Cash drop recorded: the cash goes to the vault.")
    )


@require_http_methods(["GET", "POST"])
@require(Action.OPERATE_COUNTER)
def session_close(request: HttpRequest) -> HttpResponse:
    """The blind count: the agent never sees the expected figure here."""
    session = selectors.session_active_for(request.user)
    if session is None or session.status != SessionStatus.OPEN:
        messages.error(request, _("You have no open till session to close."))
        return redirect("float:session")
    form = CountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.till_session_submit_count(
                agent=request.user,
                session=session,
                counts=form.counts(),
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
            messages.success(request, _("Count submitted. A supervisor will sign the close off."))
            return redirect("float:session")
        except DomainError as error:
            form.add_error(None, str(error))
    return render(request, "float_management/close.html", {"session": session, "form": form})


# --- Supervisor --------------------------------------------------------------------


def _witnesses(user: User, branch: Branch) -> QuerySet[User]:
    """Who can witness a vault movement: the branch's other active staff."""
    return (
        get_user_model()
        .objects.filter(profile__branch=branch, is_active=True)
        .exclude(pk=user.pk)
        .order_by("username")
    )


def _branch_context(request: HttpRequest, **forms: Form) -> dict:
    branch = _branch_of(request.user)
    return {
        "branch": branch,
        "pending": selectors.requests_pending(branch),
        "sessions": selectors.sessions_of_branch(branch),
        "vault_balance": selectors.vault_balance(branch),
        "decide_form": DecideForm(),
        "vault_form": forms.get("vault_form")
        or VaultMoveForm(witnesses=_witnesses(request.user, branch)),
        "vault_to_confirm": selectors.vault_movements_to_confirm(request.user),
        "vault_pending": selectors.vault_movements_pending(branch),
    }


def _branch_response(request: HttpRequest, **forms: Form) -> HttpResponse:
    template = "float_management/branch.html"
    if request.htmx:
        template += "#panel"
    return render(request, template, _branch_context(request, **forms))


@require_GET
@require(Action.APPROVE)
def branch_home(request: HttpRequest) -> HttpResponse:
    return _branch_response(request)


def decide_from_post(request: HttpRequest, pending: Request) -> None:
    """Approve or reject `pending` from a posted DecideForm; the outcome goes to messages.

    Shared by the branch cash page and the branch dashboard: one service, one form.
    """
    form = DecideForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.request_decide(
            request=pending,
            supervisor=request.user,
            approve=approve,
            reason=form.cleaned_data["reason"],
        )
        messages.success(request, _("Approved.") if approve else _("Rejected."))
    except DomainError as error:
        messages.error(request, str(error))


@require_POST
@require(Action.APPROVE)
def request_decide(request: HttpRequest, pk: int) -> HttpResponse:
    pending = get_scoped_or_404(
        request.user, Request.objects.select_related("branch", "session"), pk=pk
    )
    decide_from_post(request, pending)
    if request.htmx:
        return _branch_response(request)
    return redirect("float:branch")


@require_POST
@require(Action.MANAGE_VAULT)
def vault_move(request: HttpRequest) -> HttpResponse:
    branch = _branch_of(request.user)
    form = VaultMoveForm(request.POST, witnesses=_witnesses(request.user, branch))
    if form.is_valid():
        try:
            services.vault_move(
                branch=branch,
                direction=form.cleaned_data["direction"],
                amount=form.cleaned_data["amount"],
                handled_by=request.user,
                witnessed_by=form.cleaned_data["witness"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
            messages.success(
                request, _("Vault movement recorded: it is posted when the witness confirms it.")
            )
            if request.htmx:
                return _branch_response(request)
            return redirect("float:branch")
        except DomainError as error:
            form.add_error(None, str(error))
    return _branch_response(request, vault_form=form)


@require_POST
@login_required
def vault_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The witness confirms (or declines) a vault movement; its recorder may withdraw it."""
    branch_id = scope_of(request.user).branch_id
    movement = get_object_or_404(VaultMovement, pk=pk, branch_id=branch_id or -1)
    decision = request.POST.get("decision")
    try:
        if decision == "confirm":
            services.vault_move_confirm(witness=request.user, movement=movement)
            messages.success(request, _("Confirmed: the vault movement is posted."))
        elif decision == "cancel":
            services.vault_move_cancel(user=request.user, movement=movement)
            messages.success(request, _("The vault movement is cancelled; nothing was posted."))
        else:
            messages.error(request, _("Choose confirm or decline."))
    except DomainError as error:
        messages.error(request, str(error))
    if can(request.user, Action.MANAGE_VAULT):
        return redirect("float:branch")
    return redirect("float:session")
