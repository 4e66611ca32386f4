"""Taking a payment, today's payments, voids, cards.

A fixed fee shows its total on the form, and a cash payment is posted and its
receipt printed from there in one step; a card (its PIN) and a variable amount
(its total) are confirmed on a second page first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from agents.permissions import Action, get_scoped_or_404, require
from core.digits import normalize_digits
from core.errors import DomainError
from counter import integrations, methods, receipting
from counter.errors import CardUnusable
from counter.forms.payments import (
    CardIssueForm,
    CardNumberForm,
    CardReplaceForm,
    CardTopUpForm,
    CardUnlockForm,
    PaymentForm,
    VoidForm,
)
from counter.models import Citizen, Payment, PrepaidCard
from counter.services import cards as card_services
from counter.services import payments as payment_services
from counter.services.catalog import payable_service
from counter.services.citizens import otp_send_to_bound_mobile
from counter.views.citizens import citizen_from_token, citizen_link_gone
from float_management.models import SessionStatus
from float_management.selectors import session_active_for, till_status_for
from float_management.services.till import TILL_CLOSING_MESSAGE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from django.db.models import QuerySet

_ISSUED_CARD = "counter.issued_card"  # session key: the card just issued, shown once
# The pay form's button of a fixed fee: post at once if the method asks nothing more.
CONFIRM_DIRECT = "direct"


class _CitizenLinkGone(Exception):
    """A citizen token that opens nothing for this agent (altered, another's, out of date)."""


def _citizen_from(request: HttpRequest) -> Citizen | None:
    """The citizen whose token (counter.citizen_links) the form or query carries, if any."""
    token = (request.POST.get("citizen") or request.GET.get("citizen") or "").strip()
    if not token:
        return None
    citizen = citizen_from_token(request, token, detail=False)
    if citizen is None:
        # Never a payment or a card without the citizen the agent meant.
        raise _CitizenLinkGone
    return citizen


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError next to the fields it names (reference codes)."""
    if hasattr(error, "error_dict"):
        for code, errors in error.error_dict.items():
            name = (
                f"ref_{code}"
                if f"ref_{code}" in form.fields
                else (code if code in form.fields else None)
            )
            for e in errors:
                form.add_error(name, e.messages[0] if hasattr(e, "messages") else str(e))
    else:
        form.add_error(None, error.messages[0])


def _show_error(form: PaymentForm, error: DomainError | ValidationError) -> None:
    """A refusal next to the field it names (a reference, the cash tendered), else on top."""
    if isinstance(error, ValidationError):
        _add_errors(form, error)
    else:
        form.add_error(getattr(error, "field", None), str(error))


def _till_notice(request: HttpRequest) -> str:
    """Why no payment will go through for now, said before the agent types one."""
    if till_status_for(request.user) == SessionStatus.CLOSING:
        return str(TILL_CLOSING_MESSAGE)
    return ""


def _pay_page(request: HttpRequest, form: PaymentForm) -> HttpResponse:
    context = {
        "service": form.service,
        "citizen": form.citizen,
        "form": form,
        # A fixed fee is known now: the cash to ask for is on the form, not on step two.
        "quote": payment_services.payment_fixed_quote(service=form.service),
        "till_notice": _till_notice(request),
        "confirm_direct": CONFIRM_DIRECT,
        # The button says what it does for the method chosen (static/js/pay.js).
        "method_buttons": {m.key: str(m.confirm_button) for m in methods.all()},
    }
    return render(request, "counter/payments/pay.html", context)


def _confirm_page(
    request: HttpRequest,
    form: PaymentForm,
    confirmation: forms.Form | None = None,
    error: str = "",
) -> HttpResponse:
    """What the citizen will pay, with what the method asks on confirming (a card's PIN)."""
    payment = form.payment()
    try:
        quote = payment_services.payment_quote(agent=request.user, **payment)
    except (DomainError, ValidationError) as refused:
        _show_error(form, refused)
        return _pay_page(request, form)
    method, tender = form.chosen_method(), payment["tender"]
    context = {
        "service": form.service,
        "citizen": form.citizen,
        "form": form,
        "method": method,
        "quote": quote,
        "change": method.change(tender, quote.total),
        "rows": method.confirm_rows(tender, quote.total),
        "confirmation": form.confirmation() if confirmation is None else confirmation,
        "error": error,
        "till_notice": "" if error else _till_notice(request),
    }
    return render(request, "counter/payments/confirm.html", context)


def _refused(
    request: HttpRequest, form: PaymentForm, error: DomainError | ValidationError
) -> HttpResponse:
    """A refused confirmation: on the confirmation again, or on step one if a field is wrong."""
    if isinstance(error, DomainError) and getattr(error, "field", None) is None:
        return _confirm_page(request, form, error=str(error))
    _show_error(form, error)
    return _pay_page(request, form)


def _confirmation(form: PaymentForm, data: Mapping[str, Any]) -> forms.Form | None:
    """The confirmation as posted, or None while it is still to be shown.

    The confirmation page posts confirm=1 with what the method asks (a card's PIN).
    The form of a fixed fee, whose total it shows, posts confirm=direct: a method
    that asks nothing more (cash) is then posted at once, one that does is
    confirmed first. A variable amount's total is seen on the confirmation only.
    """
    if "confirm" not in data:
        return None
    confirmation = form.confirmation(data)
    if data["confirm"] == CONFIRM_DIRECT and (
        confirmation.fields or payment_services.payment_fixed_quote(service=form.service) is None
    ):
        return None
    return confirmation


@require_http_methods(["GET", "POST"])
@require(Action.OPERATE_COUNTER)
def pay(request: HttpRequest, code: str) -> HttpResponse:
    """The form, the confirmation where one is needed, then the payment and its receipt."""
    service = payable_service(code)
    if service is None:
        raise Http404
    try:
        citizen = _citizen_from(request)
    except _CitizenLinkGone:
        return citizen_link_gone(request)
    # An app above the counter may answer first (an agency's inquiry) or fill the form.
    initial: dict[str, Any] = {"citizen": citizen.token if citizen else ""}
    for hooks in integrations.all():
        answer = hooks.pay_page(request, service, citizen)
        if isinstance(answer, HttpResponse):
            return answer
        initial.update(answer or {})
    form = PaymentForm(request.POST or None, service=service, citizen=citizen, initial=initial)
    if request.method != "POST" or not form.is_valid():
        return _pay_page(request, form)
    confirmation = _confirmation(form, request.POST)
    if confirmation is None or not confirmation.is_valid():
        return _confirm_page(request, form, confirmation)
    try:
        # A method paid later (a wallet's QR) answers itself; the others are posted now.
        begun = form.chosen_method().begin(request, form.payment(confirmation.cleaned_data))
        if begun is not None:
            return begun
        payment = payment_services.payment_post(
            agent=request.user, **form.payment(confirmation.cleaned_data)
        )
    except (DomainError, ValidationError) as error:
        return _refused(request, form, error)
    # The receipt, its original printing (counter.receipting).
    return receipting.paid(request, payment)


def _payments_in_scope(request: HttpRequest) -> QuerySet[Payment]:
    return Payment.objects.select_related(
        "service", "citizen", "agent", "branch", "session__counter", "card"
    ).prefetch_related("lines__component")


@require_http_methods(["GET"])
@require(Action.VIEW)
def payment_detail(request: HttpRequest, reference: str) -> HttpResponse:
    payment = get_scoped_or_404(request.user, _payments_in_scope(request), reference=reference)
    session = session_active_for(request.user)
    can_void = not payment.is_voided and session is not None and session.pk == payment.session_id
    return render(
        request,
        "counter/payments/payment.html",
        {
            "payment": payment,
            "method_rows": methods.get(payment.method).payment_rows(payment),
            "void_form": VoidForm() if can_void else None,
        },
    )


@require_POST
@require(Action.OPERATE_COUNTER)
def payment_void(request: HttpRequest, reference: str) -> HttpResponse:
    payment = get_scoped_or_404(request.user, Payment.objects.all(), reference=reference)
    form = VoidForm(request.POST)
    if form.is_valid():
        try:
            payment_services.void_request(
                agent=request.user,
                payment=payment,
                reason=form.cleaned_data["reason"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
            messages.success(request, _("Void requested: a supervisor must approve it."))
        except DomainError as error:
            messages.error(request, str(error))
    else:
        messages.error(request, _("Give a reason for the void."))
    return redirect("counter:payment", reference=payment.reference)


@require_http_methods(["GET"])
@require(Action.OPERATE_COUNTER)
def payment_list(request: HttpRequest) -> HttpResponse:
    """Today's payments of my session, searchable by reference or national ID."""
    session = session_active_for(request.user)
    payments = Payment.objects.none()
    query = normalize_digits(request.GET.get("q", "")).strip().replace("-", "").replace(" ", "")
    if session is not None:
        payments = _payments_in_scope(request).filter(session=session)
        if query:
            payments = payments.filter(Q(reference=query) | Q(citizen__national_id=query))
    template = "counter/payments/list.html"
    if request.htmx:
        template += "#results"
    return render(request, template, {"payments": payments[:200], "q": query, "session": session})


# --- Cards ----------------------------------------------------------------------------


def _cards_page(request: HttpRequest, **extra: Any) -> HttpResponse:
    context = {
        "top_up_form": CardTopUpForm(prefix="top_up"),
        "balance_form": CardNumberForm(prefix="balance"),
        "replace_form": CardReplaceForm(prefix="replace"),
        **extra,
    }
    return render(request, "counter/payments/cards.html", context)


@require_http_methods(["GET"])
@require(Action.OPERATE_COUNTER)
def cards(request: HttpRequest) -> HttpResponse:
    return _cards_page(request)


@require_http_methods(["GET", "POST"])
@require(Action.OPERATE_COUNTER)
def card_issue(request: HttpRequest) -> HttpResponse:
    try:
        citizen = _citizen_from(request)
    except _CitizenLinkGone:
        return citizen_link_gone(request)
    if citizen is None:
        messages.error(request, _("Find the citizen first, then issue the card from their page."))
        return redirect("counter:home")
    form = CardIssueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            card = card_services.card_issue(
                agent=request.user,
                citizen=citizen,
                pin=form.cleaned_data["pin"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            return _card_issued(request, card, citizen)
    issued = _issued_card(request, citizen)
    context = {
        "citizen": citizen,
        "form": form,
        "issued": issued,
        "issued_message": _("Card issued: %(number)s") % {"number": _grouped(issued.number)}
        if issued
        else "",
    }
    return render(request, "counter/payments/card_issue.html", context)


def _grouped(number: str) -> str:
    """A card number in four groups, isolated left to right.

    In an Arabic sentence the groups would otherwise read backwards.
    """
    return "\u2066" + " ".join(number[i : i + 4] for i in range(0, 16, 4)) + "\u2069"


def _card_issued(request: HttpRequest, card: PrepaidCard, citizen: Citizen) -> HttpResponse:
    # The full number is shown once, to the agent who issued it: the page after
    # the redirect takes it from their session, never from the address (and not
    # in a flash message too, which would show it a second time).
    request.session[_ISSUED_CARD] = card.pk
    # A verified token: URL-safe characters only.
    return redirect(f"{request.path}?citizen={citizen.token}")


def _issued_card(request: HttpRequest, citizen: Citizen) -> PrepaidCard | None:
    """The card this agent has just issued to `citizen`, once (its number is in full)."""
    issued_pk = request.session.pop(_ISSUED_CARD, None)
    if issued_pk is None:
        return None
    return citizen.cards.filter(pk=issued_pk, issued_by=request.user).first()


def _card_action(
    request: HttpRequest,
    form_class: type[forms.Form],
    prefix: str,
    call: Callable[[dict[str, Any]], Any],
    done: str,
    more: Callable[[Any], dict[str, Any]] = lambda result: {},
) -> HttpResponse:
    """One form of the cards page: run `call(cleaned_data)`, show its result or the error.

    `more(result)` adds what the result's message needs besides the result itself.
    """
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            result = call(form.cleaned_data)
            return _cards_page(request, **{done: result}, **more(result))
        except DomainError as error:
            form.add_error(None, str(error))
    return _cards_page(request, **{f"{prefix}_form": form})


@require_POST
@require(Action.OPERATE_COUNTER)
def card_top_up(request: HttpRequest) -> HttpResponse:
    return _card_action(
        request,
        CardTopUpForm,
        "top_up",
        lambda data: card_services.card_top_up(
            agent=request.user,
            card_number=data["card_number"],
            amount=data["amount"],
            idempotency_key=data["idempotency_key"],
        ),
        "done_top_up",
    )


@require_POST
@require(Action.OPERATE_COUNTER)
def card_balance(request: HttpRequest) -> HttpResponse:
    form = CardNumberForm(request.POST, prefix="balance")
    balance_card = None
    if form.is_valid():
        try:
            number = card_services.normalize_card_number(form.cleaned_data["card_number"])
            balance_card = (
                PrepaidCard.objects.select_related("account", "citizen")
                .filter(number=number)
                .first()
            )
            if balance_card is None:
                form.add_error("card_number", _("No card has that number."))
        except DomainError as error:
            form.add_error("card_number", str(error))
    return _cards_page(request, balance_form=form, balance_card=balance_card)


@require_POST
@require(Action.OPERATE_COUNTER)
def card_replace(request: HttpRequest) -> HttpResponse:
    if "send_code" in request.POST:
        return _card_replace_send_code(request)
    return _card_action(
        request,
        CardReplaceForm,
        "replace",
        lambda data: card_services.card_replace(
            agent=request.user,
            card_number=data["card_number"],
            new_pin=data["pin"],
            proof_pin=data["proof_pin"],
            proof_code=data["proof_code"],
            idempotency_key=data["idempotency_key"],
        ),
        "replaced",
        more=lambda card: {"replaced_move": card_services.card_pending_move(card)},
    )


def _card_replace_send_code(request: HttpRequest) -> HttpResponse:
    """Send the lost card's holder a code to their linked mobile (their proof)."""
    form = CardReplaceForm(request.POST, prefix="replace")
    form.is_valid()  # only the card number is needed here; the rest is typed next
    number = form.cleaned_data.get("card_number", "")
    sent_to = None
    try:
        card = (
            PrepaidCard.objects.select_related("citizen")
            .filter(number=card_services.normalize_card_number(number))
            .first()
        )
        if card is None:
            raise CardUnusable(_("No card has that number."))
        challenge = otp_send_to_bound_mobile(agent=request.user, citizen=card.citizen)
        sent_to = challenge.mobile[-2:]
    except DomainError as error:
        form = CardReplaceForm(prefix="replace", initial={"card_number": number})
        form.add_error(None, str(error))
    except ValidationError as error:
        form = CardReplaceForm(prefix="replace", initial={"card_number": number})
        _add_errors(form, error)
    else:
        form = CardReplaceForm(prefix="replace", initial={"card_number": number})
    return _cards_page(request, replace_form=form, code_sent_to=sent_to)


@require_http_methods(["GET", "POST"])
@require(Action.UNLOCK_CARD)
def card_unlock(request: HttpRequest) -> HttpResponse:
    form = CardUnlockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            card = card_services.card_unlock(
                supervisor=request.user,
                card_number=form.cleaned_data["card_number"],
                national_id=form.cleaned_data["national_id"],
            )
            messages.success(request, _("Card %(card)s unlocked.") % {"card": card.masked_number})
            return redirect("counter:card_unlock")
        except DomainError as error:
            form.add_error(None, str(error))
    return render(request, "counter/payments/card_unlock.html", {"form": form})


urlpatterns = [
    path("pay/<str:code>/", pay, name="pay"),
    path("payments/", payment_list, name="payments"),
    path("payments/<str:reference>/", payment_detail, name="payment"),
    path("payments/<str:reference>/void/", payment_void, name="void"),
    path("cards/", cards, name="cards"),
    path("cards/issue/", card_issue, name="card_issue"),
    path("cards/top-up/", card_top_up, name="card_top_up"),
    path("cards/balance/", card_balance, name="card_balance"),
    path("cards/replace/", card_replace, name="card_replace"),
    path("cards/unlock/", card_unlock, name="card_unlock"),
]
