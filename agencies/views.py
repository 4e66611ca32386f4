"""The agencies' pages at the counter.

- The inquiry: the agent asks an agency what a citizen owes before any money is taken.
- The refund desk: find one refund by receipt and national ID, ask to pay it out.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from agencies.errors import AgencyError
from agencies.forms import RefundFindForm, RefundPayoutForm
from agencies.models import AgencyRefund, Inquiry, Integration
from agencies.refunds import refund_find, refund_payout_request
from agencies.services import INQUIRY_MINUTES, inquiry_make, integration_for
from agents.permissions import Action, require, scope_of
from core.digits import normalize_digits
from core.errors import DomainError
from counter.models import Citizen, Service
from counter.nationalid import mask_national_id
from counter.services.catalog import payable_service, service_fields
from counter.views.citizens import citizen_from_token, citizen_link_gone


class InquiryForm(forms.Form):
    reference = forms.CharField(max_length=60, label=gettext_lazy("Reference"))

    def __init__(self, *args: object, integration: Integration, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reference"]
        for ref in service_fields(integration.service):
            if ref.code == integration.reference_field or not integration.reference_field:
                field.label, field.help_text = ref.label, ref.hint
                break
        field.widget.attrs.update({"dir": "ltr", "autocomplete": "off", "autofocus": True})

    def clean_reference(self) -> str:
        return normalize_digits(self.cleaned_data["reference"]).strip()


def _inquire_first(code: str) -> tuple[Service, Integration]:
    service = payable_service(code)
    integration = integration_for(service) if service is not None else None
    if integration is None or not integration.inquire_first:
        raise Http404
    return service, integration


def _pay_url(inquiry: Inquiry, citizen: Citizen | None) -> str:
    query = {"inquiry": inquiry.token, **({"citizen": citizen.token} if citizen else {})}
    return f"{reverse('counter:pay', args=[inquiry.service.code])}?{urlencode(query)}"


@require_http_methods(["GET", "POST"])
@require(Action.OPERATE_COUNTER)
def inquiry(request: HttpRequest, code: str) -> HttpResponse:
    """Type the reference; the agency says what is due; pay exactly that (or a part it allows)."""
    service, integration = _inquire_first(code)
    token = (request.POST.get("citizen") or request.GET.get("citizen") or "").strip()
    citizen = citizen_from_token(request, token, detail=False) if token else None
    if token and citizen is None:
        return citizen_link_gone(request)
    form = InquiryForm(request.POST or None, integration=integration)
    context: dict[str, object] = {
        "service": service,
        "citizen": citizen,
        "form": form,
        "minutes": INQUIRY_MINUTES,
    }
    if request.method == "POST" and form.is_valid():
        branch_id = scope_of(request.user).branch_id
        try:
            if branch_id is None:
                raise DomainError(_("Only an agent of a post office asks an agency."))
            answer = inquiry_make(
                agent=request.user,
                branch_id=branch_id,
                service=service,
                reference=form.cleaned_data["reference"],
            )
        except AgencyError as error:
            form.add_error(None, str(error.message))
        except DomainError as error:
            form.add_error(None, str(error))
        except forms.ValidationError as error:
            form.add_error("reference", error.messages[0])
        else:
            answer.service = service
            context.update(answer=answer, pay_url=_pay_url(answer, citizen))
    return render(request, "agencies/inquiry.html", context)


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
