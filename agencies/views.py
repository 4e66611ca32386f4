"""The counter's refund desk: find one refund by receipt and national ID, ask to pay it out."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from agencies.forms import RefundFindForm, RefundPayoutForm
from agencies.models import AgencyRefund
from agencies.refunds import refund_find, refund_payout_request
from agents.permissions import Action, require
from core.errors import DomainError
from counter.nationalid import mask_national_id


def _page(request: HttpRequest, form: RefundFindForm, refund: AgencyRefund | None) -> HttpResponse:
    payout = None
    if refund is not None:
        payout = RefundPayoutForm(
            initial={
                "payment_reference": refund.payment.reference,
                "national_id": refund.payment.citizen.national_id,
            }
        )
    context = {
        "form": form,
        "refund": refund,
        "payout_form": payout,
        "national_id_masked": mask_national_id(refund.payment.citizen.national_id)
        if refund is not None
        else "",
    }
    return render(request, "agencies/refunds.html", context)


@require_http_methods(["GET", "POST"])
@require(Action.OPERATE_COUNTER)
def refunds(request: HttpRequest) -> HttpResponse:
    """GET: the empty form. POST (the ID stays out of URLs and logs): the one refund found."""
    if request.method == "GET":
        return _page(request, RefundFindForm(), None)
    form = RefundFindForm(request.POST)
    refund = None
    if form.is_valid():
        try:
            refund = refund_find(**form.cleaned_data)
        except DomainError as error:
            messages.error(request, str(error))
    return _page(request, form, refund)


@require_POST
@require(Action.OPERATE_COUNTER)
def refund_payout(request: HttpRequest) -> HttpResponse:
    form = RefundPayoutForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This form has expired; find the refund again."))
        return _page(request, RefundFindForm(), None)
    data = form.cleaned_data
    found = RefundFindForm(
        {"payment_reference": data["payment_reference"], "national_id": data["national_id"]}
    )
    try:
        refund_payout_request(
            agent=request.user,
            payment_reference=data["payment_reference"],
            national_id=data["national_id"],
            idempotency_key=data["idempotency_key"],
        )
        messages.success(
            request,
            _(
                "Payout asked: once a supervisor of this branch approves, pay the citizen "
                "the amount from your till."
            ),
        )
    except DomainError as error:
        messages.error(request, str(error))
    try:
        refund = refund_find(
            payment_reference=data["payment_reference"], national_id=data["national_id"]
        )
    except DomainError:
        refund = None
    return _page(request, found, refund)
