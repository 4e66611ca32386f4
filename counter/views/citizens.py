"""Views: citizens. Find one by national ID or mobile, register one, verify their mobile.

Citizens are national: any agent anywhere finds any citizen, but only by their
full national ID or mobile. Links to a citizen carry a token signed for the
agent who searched (counter.citizen_links), never the row id, so the registry
cannot be stepped through; each record read is audited and limited per agent
and hour (services.citizen_read). The code panel of the citizen's page is one
small form per action: with htmx it swaps in place, without JavaScript it
redirects back to the page (post / redirect / get).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.permissions import Action, can, require
from core.errors import DomainError
from counter.citizen_links import citizen_pk_from_token, citizen_token
from counter.forms.citizens import CitizenForm, SendCodeForm, VerifyCodeForm
from counter.models import Citizen
from counter.nationalid import LENGTH, mask_national_id, normalize_national_id, parse_national_id
from counter.phones import parse_egyptian_mobile
from counter.selectors import citizens as selectors
from counter.services import citizens as services


def shown_national_id(user: Any, number: str) -> str:
    """The whole ID for those who check ID cards (agents, auditors); masked for anyone else."""
    return number if can(user, Action.SEE_NATIONAL_ID) else mask_national_id(number)


# --- Links to a citizen ----------------------------------------------------------


def citizen_from_token(request: HttpRequest, token: str, *, detail: bool = True) -> Citizen | None:
    """The citizen `token` opens for this agent, carrying it as `.token`; None if it opens nothing.

    None for a token altered, made for another agent or out of date: the caller
    answers with `citizen_link_gone`. `detail=False` reads the citizen's row alone
    (a payment names the citizen; their page shows where they registered).
    """
    pk = citizen_pk_from_token(agent=request.user, token=token)
    if pk is None:
        return None
    try:
        citizen = selectors.citizen_detail(pk) if detail else selectors.citizen_row(pk)
    except Citizen.DoesNotExist:
        return None
    citizen.token = token
    return citizen


def citizen_link_gone(request: HttpRequest) -> HttpResponse:
    """A link to a citizen that opens nothing for this agent: 404, and what to do instead."""
    return render(request, "counter/citizens/link_gone.html", status=404)


def _reads_refused(request: HttpRequest, error: DomainError, *, fragment: bool) -> HttpResponse:
    """Past the hourly limit of citizens read: nothing of the citizen, only why."""
    context = {"error": str(error)}
    if fragment:
        # htmx swaps no 4xx answer: the refusal goes into the search results with a 200.
        return render(request, "counter/citizens/reads_refused.html#refusal", context)
    return render(request, "counter/citizens/reads_refused.html", context, status=403)


# --- Search ----------------------------------------------------------------------


def _nobody_found_hint(query: str) -> tuple[str, str]:
    """What to tell the agent when the search finds nobody, and the ID to register if any."""
    compact = normalize_national_id(query)
    if len(compact) == LENGTH and compact.isascii() and compact.isdigit():
        try:
            number = parse_national_id(compact).number
        except ValidationError as error:
            return error.messages[0], ""
        return _("No citizen is registered with this national ID."), number
    try:
        parse_egyptian_mobile(query)
    except ValidationError:
        return _("Type a national ID (14 digits) or a mobile number."), ""
    return _("No citizen has verified this mobile number. Search by national ID."), ""


@require_GET
@require(Action.OPERATE_COUNTER)
def citizen_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    citizens: list[Citizen] = []
    hint = register_id = ""
    if query:
        citizens = list(selectors.citizen_search(query))
        try:
            services.citizen_read(agent=request.user, citizens=citizens, via="search")
        except services.CitizenReadsExhausted as error:
            return _reads_refused(request, error, fragment=bool(request.htmx))
        for citizen in citizens:
            citizen.shown_national_id = shown_national_id(request.user, citizen.national_id)
            citizen.token = citizen_token(agent=request.user, citizen=citizen)
        if not citizens:
            hint, register_id = _nobody_found_hint(query)
    template = "counter/citizens/search.html"
    if request.htmx:
        template += "#results"
    context = {"query": query, "citizens": citizens, "hint": hint, "register_id": register_id}
    return render(request, template, context)


# --- Registration ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require(Action.OPERATE_COUNTER)
def citizen_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CitizenForm(request.POST)
        if form.is_valid():
            try:
                citizen, created = services.citizen_register(
                    agent=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                if created:
                    messages.success(
                        request, _("Citizen registered. A code was sent by SMS: type it below.")
                    )
                else:
                    messages.info(request, _("This citizen is already registered."))
                token = citizen_token(agent=request.user, citizen=citizen)
                return redirect("counter:citizen_detail", token=token)
    else:
        national_id = normalize_national_id(request.GET.get("national_id", ""))[:LENGTH]
        form = CitizenForm(initial={"national_id": national_id})
    return render(request, "counter/citizens/new.html", {"form": form})


# --- The citizen's page and their code -------------------------------------------


def _detail_response(request: HttpRequest, citizen: Citizen, **forms: Any) -> HttpResponse:
    pending = selectors.otp_pending_for(citizen)
    expired = pending is not None and pending.expires_at <= timezone.now()
    send_form = forms.get("send_form") or SendCodeForm()
    verify_form = forms.get("verify_form") or VerifyCodeForm()
    # One autofocus on the page, where the agent's next keystroke goes.
    if send_form.errors:
        focus = "send_form"
    elif pending is not None and not expired:
        focus = "code"
    elif citizen.mobile_verified and not verify_form.errors:
        focus = "pay"
    else:
        focus = "send"
    verify_form.focus_on("code" if focus == "code" else None)
    if focus != "send_form":
        send_form.focus_on(None)
    context = {
        "citizen": citizen,
        "national_id": shown_national_id(request.user, citizen.national_id),
        "pending": pending,
        "pending_expired": expired,
        "send_form": send_form,
        "verify_form": verify_form,
        "focus": focus,
    }
    template = "counter/citizens/detail.html"
    if request.htmx:
        template += "#code_panel"
    return render(request, template, context)


def _done(request: HttpRequest, citizen: Citizen, message: str) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:
        fresh = selectors.citizen_detail(citizen.pk)
        fresh.token = citizen.token
        return _detail_response(request, fresh)
    return redirect("counter:citizen_detail", token=citizen.token)


@require_GET
@require(Action.OPERATE_COUNTER)
def citizen_detail(request: HttpRequest, token: str) -> HttpResponse:
    citizen = citizen_from_token(request, token)
    if citizen is None:
        return citizen_link_gone(request)
    try:
        services.citizen_read(agent=request.user, citizens=[citizen], via="page")
    except services.CitizenReadsExhausted as error:
        return _reads_refused(request, error, fragment=False)
    return _detail_response(request, citizen)


@require_POST
@require(Action.OPERATE_COUNTER)
def citizen_send_code(request: HttpRequest, token: str) -> HttpResponse:
    citizen = citizen_from_token(request, token)
    if citizen is None:
        return citizen_link_gone(request)
    form = SendCodeForm(request.POST)
    if form.is_valid():
        try:
            challenge = services.otp_send(
                agent=request.user, citizen=citizen, mobile=form.cleaned_data["mobile"] or None
            )
        except ValidationError as error:
            form.add_error(None, error)
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            # Isolated left to right, or an Arabic sentence moves the "+" to the number's end.
            mobile = f"\u2066{challenge.mobile}\u2069"
            message = _("A new code was sent to %(mobile)s.") % {"mobile": mobile}
            return _done(request, citizen, message)
    return _detail_response(request, citizen, send_form=form)


@require_POST
@require(Action.OPERATE_COUNTER)
def citizen_verify(request: HttpRequest, token: str) -> HttpResponse:
    citizen = citizen_from_token(request, token)
    if citizen is None:
        return citizen_link_gone(request)
    form = VerifyCodeForm(request.POST)
    if form.is_valid():
        try:
            services.otp_verify(agent=request.user, citizen=citizen, code=form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", str(error))
        else:
            return _done(request, citizen, _("Mobile number verified."))
    return _detail_response(request, citizen, verify_form=form)


urlpatterns = [
    path("citizens/search/", citizen_search, name="citizen_search"),
    path("citizens/new/", citizen_new, name="citizen_new"),
    # A signed token, never the row id (counter.citizen_links).
    path("citizens/<str:token>/", citizen_detail, name="citizen_detail"),
    path("citizens/<str:token>/send-code/", citizen_send_code, name="citizen_send_code"),
    path("citizens/<str:token>/verify/", citizen_verify, name="citizen_verify"),
]
